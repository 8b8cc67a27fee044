/**
 * The request log's table and its migration (`0008_request_log`, run with the usage store's):
 * one row per logged request beside its usage row (same request id), its bodies in one
 * compressed document, and a full-text index of its prompt and answer: an FTS5 table on SQLite
 * (contentless: it keeps no second copy of the text), a tsvector column with a GIN index on
 * Postgres.
 */
import { SqliteAdapter, sql } from 'kysely';
import type { Generated, Kysely, Migration } from 'kysely';

/**
 * `seq` orders the log (newest first) and is its cursor: given at insert, it only grows, so a
 * page read while rows are being added never repeats or skips a row. Times are milliseconds
 * since the epoch and flags 0/1, in both dialects.
 */
export interface RequestLogTable {
  seq: Generated<number>;
  request_id: string;
  time: number;
  client_id: string;
  end_user: string | null;
  alias: string;
  provider: string | null;
  model: string | null;
  route: string;
  status: string;
  error_code: string | null;
  /** miss | exact | semantic */
  cache_status: string;
  stream: number;
  latency_ms: number;
  ttft_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  estimated: number;
  cost_usd: number;
  saved_usd: number;
  finish_reason: string | null;
  /** JSON: the attempts, each with its provider, model, status, error kind, error and latency. */
  attempts: string;
  /** The bodies (`StoredBodies` as JSON) after a byte saying how: 0 plain, 1 deflated; null when none were kept. */
  body: Buffer | null;
  /** 1 when the bodies were dropped because the store lagged. */
  bodies_dropped: number;
}

// A type, not an interface: `withTables` needs one with an index signature.
export type RequestLogDatabase = {
  /** `search` (Postgres only) is the tsvector of the prompt and answer. */
  request_log: RequestLogTable & { search?: unknown };
};

/** The usage database's Kysely, knowing the request log's table. */
export const logTables = <Database>(db: Kysely<Database>): Kysely<Database & RequestLogDatabase> =>
  db.withTables<RequestLogDatabase>();

/** Whether a Kysely runs on SQLite (the migration's DDL differs per dialect). */
export const isSqlite = (db: Kysely<unknown>): boolean =>
  db.getExecutor().adapter instanceof SqliteAdapter;

export const requestLogMigration: Migration = {
  async up(db) {
    const sqlite = isSqlite(db);
    await db.schema
      .createTable('request_log')
      .addColumn('seq', sqlite ? 'integer' : 'bigserial', (c) =>
        sqlite ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn('request_id', 'text', (c) => c.notNull().unique())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('end_user', 'text')
      .addColumn('alias', 'text', (c) => c.notNull())
      .addColumn('provider', 'text')
      .addColumn('model', 'text')
      .addColumn('route', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('error_code', 'text')
      .addColumn('cache_status', 'text', (c) => c.notNull())
      .addColumn('stream', 'smallint', (c) => c.notNull())
      .addColumn('latency_ms', 'double precision', (c) => c.notNull())
      .addColumn('ttft_ms', 'double precision')
      .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
      .addColumn('completion_tokens', 'integer', (c) => c.notNull())
      .addColumn('cached_tokens', 'integer', (c) => c.notNull())
      .addColumn('estimated', 'smallint', (c) => c.notNull())
      .addColumn('cost_usd', 'double precision', (c) => c.notNull())
      .addColumn('saved_usd', 'double precision', (c) => c.notNull())
      .addColumn('finish_reason', 'text')
      .addColumn('attempts', 'text', (c) => c.notNull())
      .addColumn('body', sqlite ? 'blob' : 'bytea')
      .addColumn('bodies_dropped', 'smallint', (c) => c.notNull())
      .execute();
    // Time ranges, the retention sweep, and a tenant's own entries newest first.
    await db.schema.createIndex('request_log_time').on('request_log').column('time').execute();
    await db.schema
      .createIndex('request_log_client_seq')
      .on('request_log')
      .columns(['client_id', 'seq'])
      .execute();
    if (sqlite) {
      await sql`create virtual table request_log_fts using fts5(text, content='', contentless_delete=1, detail=none)`.execute(
        db,
      );
      // The index follows the rows it indexes (retention deletes the rows only).
      await sql`create trigger request_log_fts_delete after delete on request_log begin
        delete from request_log_fts where rowid = old.seq; end`.execute(db);
    } else {
      await sql`alter table request_log add column search tsvector`.execute(db);
      await sql`create index request_log_search on request_log using gin (search)`.execute(db);
    }
  },
  async down(db) {
    if (isSqlite(db)) await sql`drop table if exists request_log_fts`.execute(db);
    await db.schema.dropTable('request_log').execute();
  },
};
