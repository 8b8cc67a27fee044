/**
 * The tables of runtime clients and of the audit log, in the usage database, with their
 * migrations (`0002_clients`, `0003_audit_log`, `0009_client_manifests`, listed in
 * `usage/store-db.ts`). Times are epoch
 * milliseconds and flags 0/1, as in `usage_records`; lists and objects are JSON text, so both
 * dialects read the same. A client's key is kept only as its SHA-256 (hex).
 */
import { PostgresAdapter, type Generated, type Kysely, type Migration } from 'kysely';

export interface ClientsTable {
  id: string;
  admin: number;
  /** JSON array of aliases and globs; null: every model. */
  models: string | null;
  /** JSON array of rate limits. */
  rate_limits: string;
  /** JSON budget object; null: none. */
  budget: string | null;
  /** JSON array of browser origins. */
  origins: string;
  /** `any` or `persisted`. */
  operations: string;
  /** JSON object of hash → document (trusted documents); null: none (migration 0009). */
  manifest: string | null;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
  revoked_at: number | null;
  created_by: string;
  key_sha256: string;
  /** The key replaced by the last rotation, still let in until `previous_key_until`. */
  previous_key_sha256: string | null;
  previous_key_until: number | null;
}

/** One row (id 1): bumped by every change, so replicas without Redis poll one number. */
export interface ClientsVersionTable {
  id: number;
  version: number;
}

export interface AuditTable {
  /** Ascending in the order records were written. */
  id: Generated<number>;
  time: number;
  /** The client id that made the change, or `config` for a reload. */
  actor: string;
  action: string;
  target: string | null;
  /** JSON, with keys and key digests left out. */
  before: string | null;
  after: string | null;
}

export interface ClientsDatabase {
  clients: ClientsTable;
  clients_version: ClientsVersionTable;
  audit_log: AuditTable;
}

const isPostgres = (db: Kysely<unknown>): boolean =>
  db.getExecutor().adapter instanceof PostgresAdapter;

export const clientsMigration: Migration = {
  async up(db) {
    await db.schema
      .createTable('clients')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('admin', 'smallint', (c) => c.notNull())
      .addColumn('models', 'text')
      .addColumn('rate_limits', 'text', (c) => c.notNull())
      .addColumn('budget', 'text')
      .addColumn('origins', 'text', (c) => c.notNull())
      .addColumn('operations', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('key_sha256', 'text', (c) => c.notNull())
      .addColumn('previous_key_sha256', 'text')
      .addColumn('previous_key_until', 'bigint')
      .execute();
    await db.schema
      .createTable('clients_version')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull())
      .execute();
    await (db as Kysely<ClientsDatabase>)
      .insertInto('clients_version')
      .values({ id: 1, version: 0 })
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('clients_version').execute();
    await db.schema.dropTable('clients').execute();
  },
};

export const auditMigration: Migration = {
  async up(db) {
    await db.schema
      .createTable('audit_log')
      .addColumn('id', isPostgres(db) ? 'bigserial' : 'integer', (c) =>
        isPostgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text')
      .addColumn('before', 'text')
      .addColumn('after', 'text')
      .execute();
    await db.schema.createIndex('audit_time').on('audit_log').column('time').execute();
  },
  async down(db) {
    await db.schema.dropTable('audit_log').execute();
  },
};

/** A runtime client's trusted documents, kept with it: JSON text, read only by the registry. */
export const clientManifestsMigration: Migration = {
  async up(db) {
    await db.schema.alterTable('clients').addColumn('manifest', 'text').execute();
  },
  async down(db) {
    await db.schema.alterTable('clients').dropColumn('manifest').execute();
  },
};
