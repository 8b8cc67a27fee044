/**
 * Aggregate reads of the usage table: totals, groups and latency percentiles, one query
 * builder for both dialects. Only the percentile differs: Postgres's ordered-set aggregate and
 * SQLite's percentile extension compute the same linear interpolation (`percentile_cont`).
 */
import { sql } from 'kysely';
import type { Expression, RawBuilder, SelectQueryBuilder } from 'kysely';
import type { OpenedDatabase, UsageDatabase } from './store-db.js';
import type {
  UsageDimension,
  UsageFilter,
  UsageGroup,
  UsageReport,
  UsageTotals,
} from './store-types.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

type Query = SelectQueryBuilder<UsageDatabase, 'usage_records', object>;

/** The column (or bucket) a dimension groups by. Days and hours are whole buckets since the epoch. */
function dimensionExpression(dimension: UsageDimension): RawBuilder<string | number | null> {
  switch (dimension) {
    case 'CLIENT':
      return sql`${sql.ref('client_id')}`;
    case 'USER':
      return sql`${sql.ref('end_user')}`;
    case 'PROVIDER':
      return sql`${sql.ref('provider')}`;
    case 'MODEL':
      return sql`${sql.ref('model')}`;
    case 'DAY':
      return sql`(${sql.ref('time')} / ${sql.lit(DAY_MS)})`;
    case 'HOUR':
      return sql`(${sql.ref('time')} / ${sql.lit(HOUR_MS)})`;
    case 'ROUTE':
      return sql`${sql.ref('route')}`;
  }
}

function percentile(dialect: OpenedDatabase['dialect'], p: number): RawBuilder<number | null> {
  return dialect === 'postgres'
    ? sql`percentile_cont(${sql.lit(p)}) within group (order by latency_ms)`
    : sql`percentile_cont(latency_ms, ${sql.lit(p)})`;
}

function filtered(opened: OpenedDatabase, filter: UsageFilter): Query {
  let query: Query = opened.db.selectFrom('usage_records');
  if (filter.from) query = query.where('time', '>=', filter.from.getTime());
  if (filter.to) query = query.where('time', '<', filter.to.getTime());
  if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
  if (filter.user !== undefined) query = query.where('end_user', '=', filter.user);
  if (filter.provider !== undefined) query = query.where('provider', '=', filter.provider);
  if (filter.model !== undefined) query = query.where('model', '=', filter.model);
  if (filter.route !== undefined) query = query.where('route', '=', filter.route);
  return query;
}

function withTotals(opened: OpenedDatabase, query: Query) {
  return query.select([
    sql<number>`count(*)`.as('requests'),
    sql<number>`coalesce(sum(case when status = 'error' then 1 else 0 end), 0)`.as('errors'),
    sql<number>`coalesce(sum(cache_hit), 0)`.as('cache_hits'),
    sql<number>`coalesce(sum(case when cache_kind = 'semantic' then 1 else 0 end), 0)`.as(
      'semantic_hits',
    ),
    sql<number>`coalesce(sum(case when cache_kind = 'semantic' then saved_usd else 0 end), 0)`.as(
      'semantic_saved_usd',
    ),
    sql<number>`coalesce(sum(prompt_tokens), 0)`.as('prompt_tokens'),
    sql<number>`coalesce(sum(completion_tokens), 0)`.as('completion_tokens'),
    sql<number>`coalesce(sum(cost_usd), 0)`.as('cost_usd'),
    sql<number>`coalesce(sum(saved_usd), 0)`.as('saved_usd'),
    percentile(opened.dialect, 0.5).as('p50'),
    percentile(opened.dialect, 0.95).as('p95'),
  ]);
}

interface TotalsRow {
  requests: unknown;
  errors: unknown;
  cache_hits: unknown;
  semantic_hits: unknown;
  semantic_saved_usd: unknown;
  prompt_tokens: unknown;
  completion_tokens: unknown;
  cost_usd: unknown;
  saved_usd: unknown;
  p50: unknown;
  p95: unknown;
}

const orNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

function totalsOf(row: TotalsRow | undefined): UsageTotals {
  return {
    requests: Number(row?.requests ?? 0),
    errors: Number(row?.errors ?? 0),
    cacheHits: Number(row?.cache_hits ?? 0),
    semanticHits: Number(row?.semantic_hits ?? 0),
    promptTokens: Number(row?.prompt_tokens ?? 0),
    completionTokens: Number(row?.completion_tokens ?? 0),
    costUsd: Number(row?.cost_usd ?? 0),
    savedUsd: Number(row?.saved_usd ?? 0),
    semanticSavedUsd: Number(row?.semantic_saved_usd ?? 0),
    latencyP50Ms: orNull(row?.p50),
    latencyP95Ms: orNull(row?.p95),
  };
}

const isoDay = (bucket: number): string => new Date(bucket * DAY_MS).toISOString().slice(0, 10);
const isoHour = (bucket: number): string =>
  `${new Date(bucket * HOUR_MS).toISOString().slice(0, 13)}:00:00Z`;

/** Nulls last, then code-point order: the same on both databases, whatever their collation. */
function compareKeys(a: readonly (string | null)[], b: readonly (string | null)[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export async function queryUsage(
  opened: OpenedDatabase,
  filter: UsageFilter,
  groupBy: readonly UsageDimension[],
): Promise<UsageReport> {
  const dimensions = [...new Set(groupBy)];
  const [totals, groups] = await Promise.all([
    withTotals(opened, filtered(opened, filter)).executeTakeFirst(),
    dimensions.length > 0 ? queryGroups(opened, filter, dimensions) : [],
  ]);
  return { ...totalsOf(totals), groups };
}

async function queryGroups(
  opened: OpenedDatabase,
  filter: UsageFilter,
  dimensions: readonly UsageDimension[],
): Promise<UsageGroup[]> {
  let grouped = withTotals(opened, filtered(opened, filter));
  const expressions: Expression<unknown>[] = [];
  dimensions.forEach((dimension, i) => {
    const expression = dimensionExpression(dimension);
    expressions.push(expression);
    grouped = grouped.select(expression.as(`d${i}`));
  });
  const rows = (await grouped.groupBy(expressions).execute()) as (TotalsRow &
    Record<string, unknown>)[];
  const keyed = rows.map((row) => {
    const group: UsageGroup = {
      ...totalsOf(row),
      clientId: null,
      user: null,
      provider: null,
      model: null,
      day: null,
      hour: null,
      route: null,
    };
    dimensions.forEach((dimension, i) => setDimension(group, dimension, row[`d${i}`]));
    return { group, key: dimensions.map((dimension) => keyOf(group, dimension)) };
  });
  return keyed.sort((a, b) => compareKeys(a.key, b.key)).map(({ group }) => group);
}

function setDimension(group: UsageGroup, dimension: UsageDimension, value: unknown): void {
  const text = value === null || value === undefined ? null : String(value);
  switch (dimension) {
    case 'CLIENT':
      group.clientId = text;
      break;
    case 'USER':
      group.user = text;
      break;
    case 'PROVIDER':
      group.provider = text;
      break;
    case 'MODEL':
      group.model = text;
      break;
    case 'DAY':
      group.day = text === null ? null : isoDay(Number(value));
      break;
    case 'HOUR':
      group.hour = text === null ? null : isoHour(Number(value));
      break;
    case 'ROUTE':
      group.route = text;
      break;
  }
}

function keyOf(group: UsageGroup, dimension: UsageDimension): string | null {
  switch (dimension) {
    case 'CLIENT':
      return group.clientId;
    case 'USER':
      return group.user;
    case 'PROVIDER':
      return group.provider;
    case 'MODEL':
      return group.model;
    case 'DAY':
      return group.day;
    case 'HOUR':
      return group.hour;
    case 'ROUTE':
      return group.route;
  }
}

/** Cost per client since `since` (of one client when given). */
export async function spentSince(
  opened: OpenedDatabase,
  since: Date,
  clientId?: string,
): Promise<Map<string, number>> {
  let query = opened.db
    .selectFrom('usage_records')
    .select(['client_id', sql<number>`sum(cost_usd)`.as('cost_usd')])
    .where('time', '>=', since.getTime());
  if (clientId !== undefined) query = query.where('client_id', '=', clientId);
  const rows = await query.groupBy('client_id').execute();
  return new Map(rows.map((row) => [row.client_id, Number(row.cost_usd)]));
}

/** Cost of one end user of a client since `since` (seeds a token user's budget counter). */
export async function userSpentSince(
  opened: OpenedDatabase,
  since: Date,
  clientId: string,
  user: string,
): Promise<number> {
  const row = await opened.db
    .selectFrom('usage_records')
    .select(sql<number | null>`sum(cost_usd)`.as('cost_usd'))
    .where('end_user', '=', user)
    .where('time', '>=', since.getTime())
    .where('client_id', '=', clientId)
    .executeTakeFirst();
  return Number(row?.cost_usd ?? 0);
}
