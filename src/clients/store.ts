/**
 * The clients and audit tables through Kysely. A change is one transaction: the client's row,
 * the change counter and the audit record together. On SQLite it runs synchronously on the
 * store's own handle (better-sqlite3), so no usage batch written meanwhile lands inside it; a
 * lock held by another process (SQLITE_BUSY) is waited out a few times.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { sql, type CompiledQuery, type Selectable } from 'kysely';
import type { OpenedDatabase } from '../usage/store-db.js';
import { fromClientRow, toClientRow, type RuntimeClient } from './model.js';
import type { AuditTable } from './tables.js';

export interface AuditEntry {
  time: number;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

export interface AuditQuery {
  first: number;
  /** Records older than this id (the log reads newest first). */
  beforeId?: number | undefined;
  action?: string | undefined;
  target?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

export interface ClientStore {
  all(): Promise<RuntimeClient[]>;
  one(id: string): Promise<RuntimeClient | undefined>;
  /** The change counter: every change bumps it. */
  version(): Promise<number>;
  /** Inserts (`insert`) or replaces the client's row, with its audit record, in one transaction. */
  save(client: RuntimeClient, audit: AuditEntry, insert: boolean): Promise<void>;
  audit(entry: AuditEntry): Promise<void>;
  auditLog(query: AuditQuery): Promise<AuditRecord[]>;
  /** When each client last made a request, from the usage rows. */
  lastUsed(ids: readonly string[]): Promise<Map<string, number>>;
}

const BUSY_TRIES = 20;

export function createClientStore(opened: OpenedDatabase): ClientStore {
  const { db } = opened;

  async function transact(queries: readonly CompiledQuery[]): Promise<void> {
    if (opened.dialect === 'postgres') {
      await db.transaction().execute(async (trx) => {
        for (const query of queries) await trx.executeQuery(query);
      });
      return;
    }
    const run = opened.sqlite.transaction(() => {
      for (const query of queries) opened.sqlite.prepare(query.sql).run(...query.parameters);
    });
    for (let attempt = 1; ; attempt++) {
      try {
        run.immediate();
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= BUSY_TRIES)
          throw error;
        await delay(5 * attempt);
      }
    }
  }

  const auditInsert = (entry: AuditEntry) =>
    db
      .insertInto('audit_log')
      .values({
        time: entry.time,
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        before: entry.before === undefined ? null : JSON.stringify(entry.before),
        after: entry.after === undefined ? null : JSON.stringify(entry.after),
      })
      .compile();

  return {
    async all() {
      const rows = await db.selectFrom('clients').selectAll().orderBy('id').execute();
      return rows.map(fromClientRow);
    },

    async one(id) {
      const row = await db
        .selectFrom('clients')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row && fromClientRow(row);
    },

    async version() {
      const row = await db
        .selectFrom('clients_version')
        .select('version')
        .where('id', '=', 1)
        .executeTakeFirst();
      return Number(row?.version ?? 0);
    },

    async save(client, audit, insert) {
      const row = toClientRow(client);
      const { id, ...rest } = row;
      await transact([
        insert
          ? db.insertInto('clients').values(row).compile()
          : db.updateTable('clients').set(rest).where('id', '=', id).compile(),
        db
          .updateTable('clients_version')
          .set({ version: sql`version + 1` })
          .where('id', '=', 1)
          .compile(),
        auditInsert(audit),
      ]);
    },

    audit: (entry) => transact([auditInsert(entry)]),

    async auditLog(query) {
      let select = db.selectFrom('audit_log').selectAll();
      if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
      if (query.action !== undefined) select = select.where('action', '=', query.action);
      if (query.target !== undefined) select = select.where('target', '=', query.target);
      if (query.since) select = select.where('time', '>=', query.since.getTime());
      if (query.until) select = select.where('time', '<', query.until.getTime());
      const rows = await select.orderBy('id', 'desc').limit(query.first).execute();
      return rows.map(fromAuditRow);
    },

    async lastUsed(ids) {
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectFrom('usage_records')
        .select(['client_id', sql<number>`max(time)`.as('last')])
        .where('client_id', 'in', ids)
        .groupBy('client_id')
        .execute();
      return new Map(rows.map((row) => [row.client_id, Number(row.last)]));
    },
  };
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

function fromAuditRow(row: Selectable<AuditTable>): AuditRecord {
  return {
    id: Number(row.id),
    time: Number(row.time),
    actor: row.actor,
    action: row.action,
    target: row.target,
    before: parse(row.before),
    after: parse(row.after),
  };
}
