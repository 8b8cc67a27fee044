/**
 * The usage store: one row per request in SQLite or Postgres (Kysely), written in batches off
 * the request's path, and the aggregate reports the `usage` query and budgets read.
 */
import type { LogEvent } from 'kysely';
import { MAX_BATCH, openDatabase, toRow } from './store-db.js';
import type { OpenedDatabase, UsageRow } from './store-db.js';
import { queryUsage, spentSince, userSpentSince } from './store-query.js';
import { createInsert } from './store-insert.js';
import { createWriter } from './store-writer.js';
import { createResponseStore, type ResponseStore } from './store-responses.js';

import type { UsageDimension, UsageFilter, UsageRecord, UsageReport } from './store-types.js';

export { UsageDimensions } from './store-types.js';
export type {
  UsageDimension,
  UsageFilter,
  UsageGroup,
  UsageRecord,
  UsageReport,
  UsageTotals,
} from './store-types.js';

export interface UsageStore {
  /** Synchronous, never throws, never awaits the database: the record is queued. */
  record(record: UsageRecord): void;
  /**
   * Writes everything queued now. Rejects if the database fails five tries in a row (about
   * 1.5 s with the default retry delays); the records stay queued.
   */
  flush(): Promise<void>;
  query(filter: UsageFilter, groupBy: readonly UsageDimension[]): Promise<UsageReport>;
  /** Cost per client since a time (seeds budget counters); only `clientId`'s when given. */
  spentSince(since: Date, clientId?: string): Promise<Map<string, number>>;
  /** Cost of one end user of a client since a time (seeds a token user's budget counter). */
  userSpentSince(since: Date, clientId: string, user: string): Promise<number>;
  stats(): { queued: number; dropped: number; written: number };
  /** The database itself, for the other tables it holds (runtime clients, the audit log). */
  readonly database: OpenedDatabase;
  /** Stored Responses API answers (`POST /v1/responses` with `store`), in the same database. */
  readonly responses: ResponseStore;
  /**
   * Flushes, then closes the connection. If the database is down, what could not be written is
   * counted as dropped (onDrop) and close rejects with the error.
   */
  close(): Promise<void>;
}

export interface UsageStoreOptions {
  /** `sqlite:PATH`, `sqlite::memory:` or `postgres://…`. */
  url: string;
  /** Rows per insert; at most 1424 (SQLite's bound-value limit). @default 500 */
  batchSize?: number;
  /** @default 250 */
  flushIntervalMs?: number;
  /** Records held while the database is down; beyond it the oldest are dropped. @default 100000 */
  maxQueue?: number;
  /** First retry delay after a failed write, doubled each failure (with jitter). @default 100 */
  retryInitialMs?: number;
  /** @default 10000 */
  retryMaxMs?: number;
  /** Called with how many records were just dropped. */
  onDrop?: (dropped: number) => void;
  /** Called on every failed write (and for dead idle Postgres connections). */
  onError?: (error: unknown) => void;
  /**
   * Kysely's query log: every statement, with its duration. On SQLite a batch of records is one
   * transaction running a single-row insert per record, logged as one event: that statement
   * with every record's parameters in order.
   */
  log?: (event: LogEvent) => void;
}

/** Opens the database and runs its migrations; rejects when it cannot be reached. */
export async function createUsageStore(options: UsageStoreOptions): Promise<UsageStore> {
  // A listener's fault must never reach the request that recorded.
  const onError = (error: unknown): void => {
    try {
      options.onError?.(error);
    } catch {
      // ignored: see above
    }
  };
  const onDrop = options.onDrop ?? (() => {});
  const maxQueue = Math.max(1, options.maxQueue ?? 100_000);
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, MAX_BATCH));
  const opened = await openDatabase(options.url, {
    onError,
    ...(options.log ? { log: options.log } : {}),
  });

  const writer = createWriter<UsageRow>({
    write: createInsert(opened, { onError, ...(options.log ? { log: options.log } : {}) }),
    batchSize,
    flushIntervalMs: options.flushIntervalMs ?? 250,
    maxQueue,
    retryInitialMs: options.retryInitialMs ?? 100,
    retryMaxMs: options.retryMaxMs ?? 10_000,
    onDrop,
    onError,
  });

  let closing: Promise<void> | null = null;

  return {
    record(record) {
      let row: UsageRow;
      try {
        row = toRow(record);
      } catch (error) {
        onError(error);
        writer.discard(1);
        return;
      }
      writer.push(row);
    },
    flush: () => writer.flush(),
    query: (filter, groupBy) => queryUsage(opened, filter, groupBy),
    spentSince: (since, clientId) => spentSince(opened, since, clientId),
    userSpentSince: (since, clientId, user) => userSpentSince(opened, since, clientId, user),
    stats: () => writer.stats(),
    database: opened,
    responses: createResponseStore(opened, onError),
    close() {
      closing ??= (async () => {
        let failure: unknown = null;
        try {
          await writer.flush();
        } catch (error) {
          failure = error;
        }
        writer.stop();
        await opened.db.destroy();
        if (failure) throw failure;
      })();
      return closing;
    },
  };
}
