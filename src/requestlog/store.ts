/**
 * The request log store: entries queued on the request's path (references only, never awaited),
 * prepared (serialised, redacted, capped, deflated) and written in batches by the usage
 * store's batched writer, in the usage database; read back by `requests` and `request`; and
 * a background sweep that deletes what is older than the retention, in small batches.
 *
 * When the database lags, bodies go first: past `maxQueue` entries waiting, a new entry keeps
 * its metadata only (`bodiesDropped`); past ten times that, whole entries are dropped. Both are
 * counted (`onDrop`). Usage rows have their own queue and are never dropped for this one.
 */
import { createWriter } from '../usage/store-writer.js';
import type { OpenedDatabase } from '../usage/store-db.js';
import { createInsert } from './insert.js';
import { prepareRows } from './prepare.js';
import { bodiesOf, deleteOlderThan, getRequest, listRequests } from './query.js';
import type { LoggedRequest, QueuedEntry, RequestLogFilter, StoredBodies } from './types.js';

export type RequestLogDrop = 'bodies' | 'entries';

export interface RequestLogStore {
  /** Synchronous, never throws, never awaits the database: the entry is queued. */
  record(entry: QueuedEntry): void;
  /** Writes everything queued now (rejects when the database keeps failing). */
  flush(): Promise<void>;
  /** Newest first; `limit` entries at most, older than `beforeSeq` when given. */
  list(filter: RequestLogFilter, limit: number, beforeSeq?: number): Promise<LoggedRequest[]>;
  /** One entry by request id, within a tenant's scope when given. */
  get(
    id: string,
    scope?: Pick<RequestLogFilter, 'clientId' | 'user'>,
  ): Promise<LoggedRequest | null>;
  bodies(seqs: readonly number[]): Promise<Map<number, StoredBodies | null>>;
  /** Deletes entries older than the retention now; resolves to how many. */
  sweep(now?: Date): Promise<number>;
  /** Days kept; a reload may change it. */
  retentionDays: number;
  stats(): { queued: number; written: number; bodiesDropped: number; entriesDropped: number };
  /** Flushes (bounded by the writer's retries), stops the sweep; queued entries are dropped. */
  close(): Promise<void>;
}

export interface RequestLogStoreOptions {
  database: OpenedDatabase;
  retentionDays: number;
  /** Entries waiting with their bodies before new ones are kept without. @default 10000 */
  maxQueue?: number;
  /** @default 200 */
  batchSize?: number;
  /** @default 250 */
  flushIntervalMs?: number;
  /** How often the sweep runs; 0: never by itself. @default 60000 */
  sweepIntervalMs?: number;
  /** Rows one delete of the sweep removes. @default 500 */
  sweepBatch?: number;
  onDrop?: (what: RequestLogDrop, count: number) => void;
  onError?: (error: unknown) => void;
}

export function createRequestLogStore(options: RequestLogStoreOptions): RequestLogStore {
  const { database } = options;
  const onError = (error: unknown): void => {
    try {
      options.onError?.(error);
    } catch {
      // A listener's fault must never reach a request.
    }
  };
  let bodiesDropped = 0;
  let entriesDropped = 0;
  const dropped = (what: RequestLogDrop, count: number): void => {
    if (what === 'bodies') bodiesDropped += count;
    else entriesDropped += count;
    try {
      options.onDrop?.(what, count);
    } catch {
      // as above
    }
  };
  const maxQueue = Math.max(1, options.maxQueue ?? 10_000);
  const insert = createInsert(database, onError);
  const writer = createWriter<QueuedEntry>({
    write: async (batch) => insert(await prepareRows(batch)),
    batchSize: options.batchSize ?? 200,
    flushIntervalMs: options.flushIntervalMs ?? 250,
    maxQueue: maxQueue * 10,
    retryInitialMs: 100,
    retryMaxMs: 10_000,
    onDrop: (count) => dropped('entries', count),
    onError,
  });

  const sweepBatch = options.sweepBatch ?? 500;
  let sweeping: Promise<number> | null = null;
  const store: RequestLogStore = {
    retentionDays: options.retentionDays,
    record(entry) {
      if (entry.policy !== null && writer.stats().queued >= maxQueue) {
        dropped('bodies', 1);
        writer.push({ record: entry.record, outcome: entry.outcome, policy: null });
        return;
      }
      writer.push(entry);
    },
    flush: () => writer.flush(),
    list: (filter, limit, beforeSeq) => listRequests(database, filter, limit, beforeSeq),
    get: (id, scope = {}) => getRequest(database, id, scope),
    bodies: (seqs) => bodiesOf(database, seqs),
    sweep(now = new Date()) {
      sweeping ??= deleteOlderThan(
        database,
        new Date(now.getTime() - store.retentionDays * 86_400_000),
        sweepBatch,
      ).finally(() => (sweeping = null));
      return sweeping;
    },
    stats: () => {
      const { queued, written } = writer.stats();
      return { queued, written, bodiesDropped, entriesDropped };
    },
    async close() {
      if (timer) clearInterval(timer);
      await sweeping?.catch(() => {});
      try {
        await writer.flush();
      } finally {
        writer.stop();
      }
    },
  };
  const every = options.sweepIntervalMs ?? 60_000;
  const timer =
    every > 0 ? setInterval(() => void store.sweep().catch(onError), every).unref() : null;
  return store;
}
