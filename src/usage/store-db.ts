/**
 * The usage database: one Kysely over SQLite (better-sqlite3) or Postgres (pg), the table's
 * types, its migrations, and the mapping between a `UsageRecord` and a row.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Logger, Migration, Selectable } from 'kysely';
import pg from 'pg';
import { Routes, type Route } from '../gateway/types.js';
import {
  auditMigration,
  clientManifestsMigration,
  clientsMigration,
  type ClientsDatabase,
} from '../clients/tables.js';
import { requestLogMigration } from '../requestlog/tables.js';
import type { UsageRecord } from './store-types.js';

/**
 * One row per request. Times are milliseconds since the epoch and flags are 0/1 in both
 * dialects, so every query reads the same on SQLite and Postgres.
 */
export interface UsageTable {
  time: number;
  request_id: string;
  client_id: string;
  end_user: string | null;
  alias: string;
  provider: string | null;
  model: string | null;
  status: string;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  estimated: number;
  cost_usd: number;
  saved_usd: number;
  priced: number;
  latency_ms: number;
  ttft_ms: number | null;
  cache_hit: number;
  /** exact | semantic on a cache hit (migration 0007). */
  cache_kind: string | null;
  similarity: number | null;
  attempts: number;
  stream: number;
  prompt: string | null;
  response: string | null;
  /** The edge the request came in by (`graphql`, `chat_completions`, `messages`…). */
  route: string;
}

/**
 * A stored Responses API answer (`POST /v1/responses` with `store`), per client, kept
 * `responses.retentionDays`: what `GET /v1/responses/{id}` returns and what `previous_response_id`
 * continues. Both JSON columns are text, the same in both dialects.
 */
export interface StoredResponseTable {
  id: string;
  client_id: string;
  /** Milliseconds since the epoch. */
  created_at: number;
  /** The conversation to continue from: earlier turns, this input and this output (JSON). */
  history: string;
  /** The Response object as answered (JSON). */
  response: string;
}

export interface UsageDatabase extends ClientsDatabase {
  usage_records: UsageTable;
  stored_responses: StoredResponseTable;
}

export type UsageRow = Selectable<UsageTable>;

/** The table's columns, in the order `toRow` builds them and the insert binds them. */
export const USAGE_COLUMNS = [
  'time',
  'request_id',
  'client_id',
  'end_user',
  'alias',
  'provider',
  'model',
  'status',
  'error_code',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'estimated',
  'cost_usd',
  'saved_usd',
  'priced',
  'latency_ms',
  'ttft_ms',
  'cache_hit',
  'cache_kind',
  'similarity',
  'attempts',
  'stream',
  'prompt',
  'response',
  'route',
] as const satisfies readonly (keyof UsageTable)[];

/** Fails to compile when a column of `UsageTable` is missing from `USAGE_COLUMNS`. */
type MissingColumn = Exclude<keyof UsageTable, (typeof USAGE_COLUMNS)[number]>;
const everyColumn: [MissingColumn] extends [never] ? true : MissingColumn = true;
void everyColumn;

export type OpenedDatabase =
  | {
      db: Kysely<UsageDatabase>;
      dialect: 'sqlite';
      /** The handle under `db`, for the writes, which skip the query builder. */
      sqlite: Database.Database;
    }
  | { db: Kysely<UsageDatabase>; dialect: 'postgres' };

const migrations: Record<string, Migration> = {
  '0001_usage_records': {
    async up(db) {
      await db.schema
        .createTable('usage_records')
        .addColumn('request_id', 'text', (c) => c.primaryKey())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('end_user', 'text')
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('provider', 'text')
        .addColumn('model', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
        .addColumn('completion_tokens', 'integer', (c) => c.notNull())
        .addColumn('cached_tokens', 'integer', (c) => c.notNull())
        .addColumn('estimated', 'smallint', (c) => c.notNull())
        .addColumn('cost_usd', 'double precision', (c) => c.notNull())
        .addColumn('saved_usd', 'double precision', (c) => c.notNull())
        .addColumn('priced', 'smallint', (c) => c.notNull())
        .addColumn('latency_ms', 'double precision', (c) => c.notNull())
        .addColumn('ttft_ms', 'double precision')
        .addColumn('cache_hit', 'smallint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('stream', 'smallint', (c) => c.notNull())
        .addColumn('prompt', 'text')
        .addColumn('response', 'text')
        .execute();
      // Every report is a time range; non-admins always filter by their client; budgets sum
      // cost per client since the period began.
      await db.schema.createIndex('usage_time').on('usage_records').column('time').execute();
      // cost_usd too, so summing a client's spend reads the index alone.
      await db.schema
        .createIndex('usage_client_time')
        .on('usage_records')
        .columns(['client_id', 'time', 'cost_usd'])
        .execute();
      await db.schema
        .createIndex('usage_user_time')
        .on('usage_records')
        .columns(['end_user', 'time'])
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('usage_records').execute();
    },
  },
  '0002_clients': clientsMigration,
  '0003_audit_log': auditMigration,
  // The edge of each request: rows written before it came in by GraphQL or chat completions
  // (both unknown by then), and read as `graphql`, the gateway's default.
  '0004_usage_route': {
    async up(db) {
      await db.schema
        .alterTable('usage_records')
        .addColumn('route', 'text', (c) => c.notNull().defaultTo('graphql'))
        .execute();
    },
    async down(db) {
      await db.schema.alterTable('usage_records').dropColumn('route').execute();
    },
  },
  '0005_stored_responses': {
    async up(db) {
      await db.schema
        .createTable('stored_responses')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('history', 'text', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull())
        .execute();
      // The retention sweep deletes by age.
      await db.schema
        .createIndex('stored_responses_created')
        .on('stored_responses')
        .column('created_at')
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('stored_responses').execute();
    },
  },
  '0007_usage_semantic_cache': {
    async up(db) {
      await db.schema.alterTable('usage_records').addColumn('cache_kind', 'text').execute();
      await db.schema
        .alterTable('usage_records')
        .addColumn('similarity', 'double precision')
        .execute();
    },
    async down(db) {
      await db.schema.alterTable('usage_records').dropColumn('similarity').execute();
      await db.schema.alterTable('usage_records').dropColumn('cache_kind').execute();
    },
  },
  // Beside the usage row of each request: its bodies and attempts (src/requestlog/).
  '0008_request_log': requestLogMigration,
  // A runtime client's trusted documents (`clients/manifest.ts`).
  '0009_client_manifests': clientManifestsMigration,
};

/** Postgres hands bigint and numeric back as text; every one of ours fits a double. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

function sqliteFile(url: string): string {
  const path = url.slice('sqlite:'.length);
  if (path === ':memory:' || path === '') return ':memory:';
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

/**
 * Opens `sqlite:PATH` (the folder is created; `sqlite::memory:` stays in memory) or
 * `postgres://…`, and runs the migrations. Rejects when the database cannot be reached.
 */
export async function openDatabase(
  url: string,
  options: { log?: Logger; onError?: (error: unknown) => void } = {},
): Promise<OpenedDatabase> {
  let opened: OpenedDatabase;
  if (url.startsWith('sqlite:')) {
    const database = new Database(sqliteFile(url));
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    const db = new Kysely<UsageDatabase>({
      dialect: new SqliteDialect({ database }),
      ...(options.log ? { log: options.log } : {}),
    });
    opened = { db, dialect: 'sqlite', sqlite: database };
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 5_000,
      types: pgTypes,
    });
    // A connection that dies (a restart, a network cut) emits 'error' on its client. The pool
    // listens while the client is idle; while it is checked out nobody does (Kysely does not),
    // and an unheard 'error' would crash the process. The query in flight rejects anyway.
    pool.on('connect', (client) => client.on('error', () => {}));
    pool.on('error', (error) => options.onError?.(error));
    const db = new Kysely<UsageDatabase>({
      dialect: new PostgresDialect({ pool }),
      ...(options.log ? { log: options.log } : {}),
    });
    opened = { db, dialect: 'postgres' };
  } else {
    throw new Error(
      `database.url must start with sqlite: or postgres:// (got "${url.split(':')[0]}:…")`,
    );
  }
  try {
    const migrator = new Migrator({
      db: opened.db,
      provider: { getMigrations: async () => migrations },
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
    if (opened.dialect === 'sqlite') {
      // Percentiles rely on SQLite's percentile extension, which better-sqlite3 compiles in.
      await sql`select percentile_cont(1, 0.5)`.execute(opened.db);
      opened.sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_WAIT_MS}`);
    }
  } catch (error) {
    await opened.db.destroy();
    throw error;
  }
  return opened;
}

/**
 * How long a SQLite statement waits for another connection's lock. better-sqlite3 waits inside
 * the event loop (5 s by default), stalling every request meanwhile; at 0 a locked database
 * answers SQLITE_BUSY at once, and the writer keeps the batch queued and tries again later.
 * Opening (migrations) still waits the default: nothing is served yet.
 */
const SQLITE_BUSY_WAIT_MS = 0;

const flag = (value: boolean): number => (value ? 1 : 0);

/**
 * Postgres refuses a NUL character in text (22021), which would drop the whole record: a caller
 * could go unrecorded by putting one in `user`. Stored as U+FFFD in both dialects instead.
 */
const text = <T extends string | null>(value: T): T =>
  // Looking first is several times cheaper than replaceAll on a string without one.
  (value === null || !value.includes('\u0000') ? value : value.replaceAll('\u0000', '\uFFFD')) as T;

export function toRow(record: UsageRecord): UsageRow {
  return {
    time: record.time.getTime(),
    request_id: text(record.requestId),
    client_id: text(record.clientId),
    end_user: text(record.user),
    alias: text(record.alias),
    provider: text(record.provider),
    model: text(record.model),
    status: record.status,
    error_code: text(record.errorCode),
    prompt_tokens: record.promptTokens,
    completion_tokens: record.completionTokens,
    cached_tokens: record.cachedTokens,
    estimated: flag(record.estimated),
    cost_usd: record.costUsd,
    saved_usd: record.savedUsd,
    priced: flag(record.priced),
    latency_ms: record.latencyMs,
    ttft_ms: record.ttftMs,
    cache_hit: flag(record.cacheHit),
    cache_kind: record.cacheKind ?? null,
    similarity: record.similarity ?? null,
    attempts: record.attempts,
    stream: flag(record.stream),
    prompt: text(record.prompt),
    response: text(record.response),
    route: record.route,
  };
}

export function fromRow(row: UsageRow): UsageRecord {
  return {
    time: new Date(Number(row.time)),
    requestId: row.request_id,
    clientId: row.client_id,
    user: row.end_user,
    alias: row.alias,
    provider: row.provider,
    model: row.model,
    status: row.status === 'error' ? 'error' : 'ok',
    errorCode: row.error_code,
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    cachedTokens: Number(row.cached_tokens),
    estimated: Number(row.estimated) === 1,
    costUsd: Number(row.cost_usd),
    savedUsd: Number(row.saved_usd),
    priced: Number(row.priced) === 1,
    latencyMs: Number(row.latency_ms),
    ttftMs: row.ttft_ms === null ? null : Number(row.ttft_ms),
    cacheHit: Number(row.cache_hit) === 1,
    cacheKind: row.cache_kind === 'exact' || row.cache_kind === 'semantic' ? row.cache_kind : null,
    similarity: row.similarity === null ? null : Number(row.similarity),
    attempts: Number(row.attempts),
    stream: Number(row.stream) === 1,
    prompt: row.prompt,
    response: row.response,
    route: (Routes as readonly string[]).includes(row.route) ? (row.route as Route) : 'graphql',
  };
}

/** The largest batch one multi-row insert may carry (SQLite binds at most 32766 values). */
export const MAX_BATCH = Math.floor(32_766 / USAGE_COLUMNS.length);
