/**
 * The shapes of the usage store: a record as written, and the reports read back. Apart from
 * `store.ts` so that the store's own parts (database, queries) need not import the store.
 */
import type { Route } from '../gateway/types.js';

export interface UsageRecord {
  time: Date;
  requestId: string;
  clientId: string;
  user: string | null;
  /** The model as called: an alias or `provider/model`. */
  alias: string;
  /** The configured provider that answered (or last failed); null when none was tried. */
  provider: string | null;
  /** The upstream model. */
  model: string | null;
  status: 'ok' | 'error';
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  estimated: boolean;
  costUsd: number;
  /** What a cache hit saved. */
  savedUsd: number;
  priced: boolean;
  latencyMs: number;
  ttftMs: number | null;
  cacheHit: boolean;
  /** On a cache hit, how it was found: `exact` or `semantic` (by meaning). */
  cacheKind?: 'exact' | 'semantic' | null;
  /** On a semantic hit, how near the prompts were (cosine similarity). */
  similarity?: number | null;
  attempts: number;
  stream: boolean;
  /** Bodies only when `logging.bodies`. */
  prompt: string | null;
  response: string | null;
  /** The edge the request came in by. */
  route: Route;
}

export interface UsageFilter {
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  clientId?: string;
  user?: string;
  provider?: string;
  /** The upstream model. */
  model?: string;
  route?: Route;
}

export const UsageDimensions = [
  'CLIENT',
  'USER',
  'PROVIDER',
  'MODEL',
  'DAY',
  'HOUR',
  'ROUTE',
] as const;
/** MODEL groups by the upstream model; DAY and HOUR are UTC; ROUTE by the edge. */
export type UsageDimension = (typeof UsageDimensions)[number];

export interface UsageTotals {
  requests: number;
  errors: number;
  cacheHits: number;
  /** Of cacheHits, those found by meaning (the semantic cache). */
  semanticHits: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  savedUsd: number;
  /** Of savedUsd, what semantic hits saved. */
  semanticSavedUsd: number;
  /** Over every request counted (errors and cache hits included); null when there are none. */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

/** The totals of one combination of groupBy values; a dimension not grouped by is null. */
export interface UsageGroup extends UsageTotals {
  clientId: string | null;
  user: string | null;
  provider: string | null;
  model: string | null;
  /** YYYY-MM-DD (UTC). */
  day: string | null;
  /** YYYY-MM-DDTHH:00:00Z. */
  hour: string | null;
  route: string | null;
}

export interface UsageReport extends UsageTotals {
  /** Ordered by the groupBy values, in groupBy order, nulls last. */
  groups: UsageGroup[];
}
