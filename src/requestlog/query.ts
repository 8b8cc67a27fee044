/**
 * Reading the request log: a page of entries newest first (keyset on `seq`, so a page read
 * while rows are being added never repeats or skips one), filtered by time, tenant, model,
 * provider, status, cache status and words of the prompt or answer; and the bodies of entries.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import { badInput } from '../gateway/errors.js';
import type { FinishReason } from '../gateway/types.js';
import type { OpenedDatabase } from '../usage/store-db.js';
import { readBodies } from './prepare.js';
import { logTables, type RequestLogTable } from './tables.js';
import type { CacheStatus, LoggedRequest, RequestLogFilter, StoredBodies } from './types.js';
import type { Selectable } from 'kysely';

type Row = Omit<Selectable<RequestLogTable>, 'body'>;

/** The words of a search, as both full-text engines split them (letters and digits). */
export function searchWords(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) throw badInput('filter.text', 'text has no words to search for');
  return words.slice(0, 32);
}

/** Entries matching `filter`, newest first, after the entry `beforeSeq` when given. */
export async function listRequests(
  opened: OpenedDatabase,
  filter: RequestLogFilter,
  limit: number,
  beforeSeq?: number,
): Promise<LoggedRequest[]> {
  const db = logTables(opened.db);
  const rows = await db
    .selectFrom('request_log')
    .select(SUMMARY_COLUMNS)
    .where((eb) => {
      const all: Expression<SqlBool>[] = [];
      if (beforeSeq !== undefined) all.push(eb('seq', '<', beforeSeq));
      if (filter.from) all.push(eb('time', '>=', filter.from.getTime()));
      if (filter.to) all.push(eb('time', '<', filter.to.getTime()));
      if (filter.clientId !== undefined) all.push(eb('client_id', '=', filter.clientId));
      if (filter.user !== undefined) all.push(eb('end_user', '=', filter.user));
      if (filter.model !== undefined)
        all.push(eb.or([eb('model', '=', filter.model), eb('alias', '=', filter.model)]));
      if (filter.provider !== undefined) all.push(eb('provider', '=', filter.provider));
      if (filter.status !== undefined) all.push(eb('status', '=', filter.status));
      if (filter.cacheStatus !== undefined) all.push(eb('cache_status', '=', filter.cacheStatus));
      if (filter.text !== undefined) {
        const words = searchWords(filter.text);
        all.push(
          opened.dialect === 'sqlite'
            ? eb(
                'seq',
                'in',
                sql<number>`(select rowid from request_log_fts where request_log_fts match ${words
                  .map((word) => `"${word}"`)
                  .join(' ')})`,
              )
            : sql<SqlBool>`search @@ plainto_tsquery('simple', ${words.join(' ')})`,
        );
      }
      return eb.and(all);
    })
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
  return rows.map(fromRow);
}

/** One entry by its request id, within `scope` (a tenant's own); null when there is none. */
export async function getRequest(
  opened: OpenedDatabase,
  id: string,
  scope: Pick<RequestLogFilter, 'clientId' | 'user'>,
): Promise<LoggedRequest | null> {
  let query = logTables(opened.db)
    .selectFrom('request_log')
    .select(SUMMARY_COLUMNS)
    .where('request_id', '=', id);
  if (scope.clientId !== undefined) query = query.where('client_id', '=', scope.clientId);
  if (scope.user !== undefined) query = query.where('end_user', '=', scope.user);
  const row = await query.executeTakeFirst();
  return row ? fromRow(row) : null;
}

/** The bodies of entries by `seq` (null for one kept without them). */
export async function bodiesOf(
  opened: OpenedDatabase,
  seqs: readonly number[],
): Promise<Map<number, StoredBodies | null>> {
  const rows = await logTables(opened.db)
    .selectFrom('request_log')
    .select(['seq', 'body'])
    .where('seq', 'in', [...seqs])
    .execute();
  const out = new Map<number, StoredBodies | null>();
  for (const row of rows) out.set(Number(row.seq), row.body ? readBodies(row.body) : null);
  return out;
}

const SUMMARY_COLUMNS = [
  'seq',
  'request_id',
  'time',
  'client_id',
  'end_user',
  'alias',
  'provider',
  'model',
  'route',
  'status',
  'error_code',
  'cache_status',
  'stream',
  'latency_ms',
  'ttft_ms',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'estimated',
  'cost_usd',
  'saved_usd',
  'finish_reason',
  'attempts',
  'bodies_dropped',
] as const;

function fromRow(row: Row): LoggedRequest {
  return {
    seq: Number(row.seq),
    id: row.request_id,
    time: new Date(Number(row.time)),
    clientId: row.client_id,
    user: row.end_user,
    alias: row.alias,
    provider: row.provider,
    model: row.model,
    route: row.route,
    status: row.status === 'error' ? 'error' : 'ok',
    errorCode: row.error_code,
    cacheStatus: row.cache_status as CacheStatus,
    stream: Number(row.stream) === 1,
    latencyMs: Number(row.latency_ms),
    ttftMs: row.ttft_ms === null ? null : Number(row.ttft_ms),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    cachedTokens: Number(row.cached_tokens),
    estimated: Number(row.estimated) === 1,
    costUsd: Number(row.cost_usd),
    savedUsd: Number(row.saved_usd),
    finishReason: row.finish_reason as FinishReason | null,
    attempts: JSON.parse(row.attempts) as LoggedRequest['attempts'],
    bodiesDropped: Number(row.bodies_dropped) === 1,
  };
}

/**
 * Deletes entries older than `before`, `batchSize` at a time, yielding to the event loop between
 * batches so that a large backlog never holds the database (or requests) for long. Resolves to
 * how many were deleted.
 */
export async function deleteOlderThan(
  opened: OpenedDatabase,
  before: Date,
  batchSize: number,
): Promise<number> {
  const db = logTables(opened.db);
  let deleted = 0;
  for (;;) {
    const result = await db
      .deleteFrom('request_log')
      .where(
        'seq',
        'in',
        db
          .selectFrom('request_log')
          .select('seq')
          .where('time', '<', before.getTime())
          .orderBy('seq')
          .limit(batchSize),
      )
      .executeTakeFirst();
    const count = Number(result.numDeletedRows);
    deleted += count;
    if (count < batchSize) return deleted;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
