/**
 * Stored Responses API answers, in the usage database (`stored_responses`, migration
 * `0005_stored_responses`): one row per stored response, owned by one client. Reads filter by
 * the client and by age, so another client's id and an expired one are alike "not found"; the
 * sweep that deletes expired rows runs in the background, at most once per `SWEEP_EVERY_MS`.
 */
import type { OpenedDatabase } from './store-db.js';

export interface StoredResponse {
  id: string;
  clientId: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** The conversation to continue from (JSON-serialisable). */
  history: unknown;
  /** The Response object as answered (JSON-serialisable). */
  response: unknown;
}

export interface ResponseStore {
  save(entry: StoredResponse): Promise<void>;
  /** The client's response made at or after `notBefore` (ms), else undefined. */
  get(id: string, clientId: string, notBefore: number): Promise<StoredResponse | undefined>;
  /** True when the client had it. */
  delete(id: string, clientId: string): Promise<boolean>;
  /** Deletes every response older than `before` (ms); returns how many. */
  sweep(before: number): Promise<number>;
  /** Starts a sweep in the background unless one ran within `SWEEP_EVERY_MS`; never throws. */
  sweepSoon(before: number): void;
  /** The last background sweep (resolves with how many it deleted, 0 if it failed). */
  readonly sweeping: Promise<number> | undefined;
}

/** How often expired responses are deleted, at most. */
export const SWEEP_EVERY_MS = 10 * 60_000;

export function createResponseStore(
  opened: OpenedDatabase,
  onError: (error: unknown) => void,
): ResponseStore {
  const { db } = opened;
  let lastSweep = 0;
  let sweeping: Promise<number> | undefined;
  const store: ResponseStore = {
    async save(entry) {
      await db
        .insertInto('stored_responses')
        .values({
          id: entry.id,
          client_id: entry.clientId,
          created_at: entry.createdAt,
          history: JSON.stringify(entry.history),
          response: JSON.stringify(entry.response),
        })
        .execute();
    },
    async get(id, clientId, notBefore) {
      const row = await db
        .selectFrom('stored_responses')
        .selectAll()
        .where('id', '=', id)
        .where('client_id', '=', clientId)
        .where('created_at', '>=', notBefore)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        id: row.id,
        clientId: row.client_id,
        createdAt: Number(row.created_at),
        history: JSON.parse(row.history) as unknown,
        response: JSON.parse(row.response) as unknown,
      };
    },
    async delete(id, clientId) {
      const result = await db
        .deleteFrom('stored_responses')
        .where('id', '=', id)
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async sweep(before) {
      lastSweep = Date.now();
      const result = await db
        .deleteFrom('stored_responses')
        .where('created_at', '<', before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    sweepSoon(before) {
      if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
      lastSweep = Date.now();
      sweeping = store.sweep(before).catch((error: unknown) => {
        onError(error);
        return 0;
      });
    },
    get sweeping() {
      return sweeping;
    },
  };
  return store;
}
