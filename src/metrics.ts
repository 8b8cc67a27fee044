/**
 * prom-client metrics, one registry per Conduit instance (tests run several in one process).
 * Labels are provider, model, status and kinds: never a client key or a provider key. Provider
 * and model values come from the config (see `metricNames`), anything else is `other`: a caller
 * who makes up model names (echo and providers without a `models` list answer any) must not
 * make up series, each of which the process and every scraper keep forever.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type Metric,
} from 'prom-client';
import { hash, timingSafeEqual } from 'node:crypto';
import type { Config } from './config/schema.js';
import type { Outcome } from './gateway/account.js';
import { BUILT_IN_PRICES } from './usage/prices.js';
import type { UsageRecord } from './usage/store.js';

/** The provider and model names a series may carry; built once per config, read per request. */
export interface MetricNames {
  readonly providers: ReadonlySet<string>;
  readonly models: ReadonlySet<string>;
}

/** What stands for every name the config does not list. */
export const OTHER = 'other';

/**
 * The names the config lists: its providers; and as models, the aliases, their targets' models,
 * the providers' `models`, the models of `pricing` keys (`provider/model`) and those of the
 * built-in price table (a fixed list: the models a cost is known for).
 */
export function metricNames(config: Pick<Config, 'providers' | 'models' | 'pricing'>): MetricNames {
  const models = new Set<string>(Object.keys(BUILT_IN_PRICES));
  for (const [alias, route] of Object.entries(config.models)) {
    models.add(alias);
    for (const target of route.targets) models.add(target.model);
  }
  for (const provider of Object.values(config.providers)) {
    for (const model of provider.models) models.add(model);
    // The echo provider's own name for itself (`echo/echo`, GraphiQL's example).
    if (provider.type === 'echo') models.add('echo');
  }
  for (const key of Object.keys(config.pricing)) {
    const slash = key.indexOf('/');
    if (slash > 0) models.add(key.slice(slash + 1));
  }
  return { providers: new Set(Object.keys(config.providers)), models };
}

const providerLabel = (names: MetricNames, provider: string | null): string =>
  provider === null ? 'none' : names.providers.has(provider) ? provider : OTHER;

/**
 * The model that answered when the config lists it, else the model asked of the last target
 * (an upstream answers `gpt-4o-2024-08-06` to `gpt-4o`), else `other`.
 */
function modelLabel(names: MetricNames, record: UsageRecord, outcome: Outcome): string {
  if (record.model === null) return 'none';
  if (names.models.has(record.model)) return record.model;
  const asked = outcome.attempts.at(-1)?.model;
  return asked !== undefined && names.models.has(asked) ? asked : OTHER;
}

/**
 * Finds the cell of a set of label values through one Map per label (no key built, nothing
 * validated per call), making it with `make` the first time.
 */
function cellFinder<L extends string, C>(
  labelNames: readonly L[],
  make: (labels: Partial<Record<L, string>>) => C,
): (...values: string[]) => C {
  const root = new Map<string, unknown>();
  const depth = labelNames.length;
  if (depth === 0) {
    const only = make({});
    return () => only;
  }
  return (...values) => {
    let map = root;
    for (let i = 0; i < depth - 1; i++) {
      let next = map.get(values[i]!) as Map<string, unknown> | undefined;
      if (!next) map.set(values[i]!, (next = new Map()));
      map = next;
    }
    let cell = map.get(values[depth - 1]!) as C | undefined;
    if (!cell) {
      const labels: Partial<Record<L, string>> = {};
      for (const [i, name] of labelNames.entries()) labels[name] = values[i];
      cell = make(labels);
      map.set(values[depth - 1]!, cell);
    }
    return cell;
  };
}

/**
 * A counter counted per request in plain cells and written into prom-client when scraped.
 * prom-client's own inc() builds a key from the labels, validates them and stamps the time on
 * every call: most of what the metrics cost a request.
 */
function createCellCounter<L extends string>(
  config: CounterConfiguration<L> & { labelNames: readonly L[] },
): (...values: string[]) => { value: number } {
  const cells: { labels: Partial<Record<L, string>>; value: number }[] = [];
  new Counter({
    ...config,
    collect() {
      this.reset();
      for (const cell of cells) this.inc(cell.labels, cell.value);
    },
  });
  return cellFinder(config.labelNames, (labels) => {
    const cell = { labels, value: 0 };
    cells.push(cell);
    return cell;
  });
}

interface HistogramCell {
  labels: Partial<Record<string, string>>;
  /** Observations per bucket, not cumulative; the last slot is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

function observeIn(cell: HistogramCell, bounds: readonly number[], value: number): void {
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  cell.counts[i]! += 1;
  cell.sum += value;
  cell.count += 1;
}

/**
 * A histogram kept in plain cells like the counters, registered as a metric that answers the
 * registry in prom-client's histogram format (`_bucket` per `le`, `+Inf`, `_sum`, `_count`).
 * prom-client's observe() hashes the labels and validates them on every call (~3% of a request).
 */
export function createCellHistogram<L extends string>(config: {
  name: string;
  help: string;
  labelNames: readonly L[];
  buckets: readonly number[];
  registers: Registry[];
}): (...values: string[]) => (value: number) => void {
  const { name, help, buckets } = config;
  const cells: HistogramCell[] = [];
  const series = (cell: HistogramCell) => {
    const bucket = (le: number | string, value: number) => ({
      metricName: `${name}_bucket`,
      labels: { le, ...cell.labels },
      value,
      exemplar: null,
    });
    const values: object[] = [];
    let cumulative = 0;
    for (const [i, le] of buckets.entries()) {
      cumulative += cell.counts[i]!;
      values.push(bucket(le, cumulative));
    }
    values.push(
      bucket('+Inf', cell.count),
      { metricName: `${name}_sum`, labels: cell.labels, value: cell.sum },
      { metricName: `${name}_count`, labels: cell.labels, value: cell.count },
    );
    return values;
  };
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      values: cells.flatMap(series),
    }),
    reset() {
      for (const cell of cells) {
        cell.counts.fill(0);
        cell.sum = 0;
        cell.count = 0;
      }
    },
  };
  for (const registry of config.registers) registry.registerMetric(metric as unknown as Metric);
  const find = cellFinder(config.labelNames, (labels) => {
    const cell: HistogramCell = {
      labels,
      counts: new Array<number>(buckets.length + 1).fill(0),
      sum: 0,
      count: 0,
    };
    cells.push(cell);
    return (value: number) => observeIn(cell, buckets, value);
  });
  return find;
}

const sha256 = (text: string): Buffer => Buffer.from(hash('sha256', text, 'hex'), 'hex');

/**
 * Whether a scrape may read `/metrics`: always when no `metrics.token` is set, else when its
 * `Authorization: Bearer <token>` matches. Both sides are hashed first, so the comparison takes
 * the same time whatever the length or the first wrong byte.
 */
export function mayScrape(token: string | undefined, authorization: string | undefined): boolean {
  if (token === undefined) return true;
  const given = bearerToken(authorization);
  // A missing token is compared too (as the empty string, which no token is): same time taken.
  return timingSafeEqual(sha256(token), sha256(given ?? ''));
}

/**
 * The token of `Bearer <token>`, trimmed; undefined for anything else. Sliced, not matched by a
 * lazy expression, which is quadratic on a header of spaces.
 */
function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length < 7) return undefined;
  if (authorization.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  if (!/\s/.test(authorization[6]!)) return undefined;
  const token = authorization.slice(7).trim();
  return token.length > 0 ? token : undefined;
}

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface Metrics {
  registry: Registry;
  inFlight: Gauge;
  storeErrors: Counter<'store'>;
  usageDropped: Counter;
  upstreamErrors: Counter<'provider' | 'kind'>;
  /** Semantic-cache look-ups by result (hit, miss, guarded, ineligible, unavailable). */
  semanticResults: Counter<'result'>;
  /** How long the semantic cache's embedder took, by embedder type (lexical, provider). */
  semanticEmbedSeconds: Histogram<'embedder'>;
  /** Reports the usage queue's depth at each scrape. */
  trackUsageQueue(depth: () => number): void;
  /** Reports how many circuits are open at each scrape. */
  trackOpenCircuits(count: () => number): void;
  /** Counts a finished request; provider and model labels outside `names` become `other`. */
  observe(record: UsageRecord, outcome: Outcome, names: MetricNames): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const requests = createCellCounter({
    name: 'conduit_requests_total',
    help: 'Requests by provider, model and status (ok or an error code)',
    labelNames: ['provider', 'model', 'status'] as const,
    registers,
  });
  const latency = createCellHistogram({
    name: 'conduit_request_duration_seconds',
    help: 'Request latency, end to end',
    labelNames: ['provider', 'stream'] as const,
    buckets: latencyBuckets,
    registers,
  });
  const ttft = createCellHistogram({
    name: 'conduit_time_to_first_token_seconds',
    help: 'Streams: time until the first token left for the client',
    labelNames: ['provider'] as const,
    buckets: latencyBuckets,
    registers,
  });
  const overhead = createCellHistogram({
    name: 'conduit_gateway_overhead_seconds',
    help: "Time Conduit itself added: a request's total time minus its upstream tries",
    labelNames: [],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers,
  });
  const tokens = createCellCounter({
    name: 'conduit_tokens_total',
    help: 'Tokens the providers served, by provider and kind (prompt, completion, cached); cache hits excluded',
    labelNames: ['provider', 'kind'] as const,
    registers,
  });
  const cost = createCellCounter({
    name: 'conduit_cost_usd_total',
    help: 'Cost in USD by provider',
    labelNames: ['provider'] as const,
    registers,
  });
  const cache = createCellCounter({
    name: 'conduit_cache_requests_total',
    help: 'Exact-cache lookups by result (hit, miss)',
    labelNames: ['result'] as const,
    registers,
  });
  const refused = new Counter({
    name: 'conduit_refused_total',
    help: 'Requests refused by a gateway limit, by code (RATE_LIMITED, BUDGET_EXCEEDED)',
    labelNames: ['code'] as const,
    registers,
  });
  const upstreamErrors = new Counter({
    name: 'conduit_upstream_errors_total',
    help: 'Failed upstream tries by provider and kind (rate_limited, timeout, server, …)',
    labelNames: ['provider', 'kind'] as const,
    registers,
  });
  const semanticResults = new Counter({
    name: 'conduit_semantic_cache_requests_total',
    help: 'Semantic-cache look-ups by result (hit, miss, guarded, ineligible, unavailable)',
    labelNames: ['result'] as const,
    registers,
  });
  const semanticEmbedSeconds = new Histogram({
    name: 'conduit_semantic_cache_embed_seconds',
    help: "The semantic cache's embedder latency, by embedder type (lexical, provider)",
    labelNames: ['embedder'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const inFlight = new Gauge({
    name: 'conduit_in_flight',
    help: 'HTTP requests and WebSocket operations being served',
    registers,
  });
  const storeErrors = new Counter({
    name: 'conduit_state_store_errors_total',
    help: 'Shared-state calls that failed and fell back to memory, by store',
    labelNames: ['store'] as const,
    registers,
  });
  const usageDropped = new Counter({
    name: 'conduit_usage_records_dropped_total',
    help: 'Usage records dropped because the queue overflowed while the database was away',
    registers,
  });
  let queueDepth = () => 0;
  new Gauge({
    name: 'conduit_usage_queue_depth',
    help: 'Usage records waiting to be written',
    registers,
    collect() {
      this.set(queueDepth());
    },
  });
  let openCircuits = () => 0;
  new Gauge({
    name: 'conduit_open_circuits',
    help: 'Targets whose circuit breaker is open',
    registers,
    collect() {
      this.set(openCircuits());
    },
  });

  return {
    registry,
    inFlight,
    storeErrors,
    usageDropped,
    upstreamErrors,
    semanticResults,
    semanticEmbedSeconds,
    trackUsageQueue(depth) {
      queueDepth = depth;
    },
    trackOpenCircuits(count) {
      openCircuits = count;
    },
    observe(record, outcome, names) {
      const provider = providerLabel(names, record.provider);
      requests(provider, modelLabel(names, record, outcome), record.errorCode ?? 'ok').value += 1;
      latency(provider, record.stream ? 'true' : 'false')(record.latencyMs / 1000);
      if (record.ttftMs !== null) ttft(provider)(record.ttftMs / 1000);
      if (!record.cacheHit) {
        if (record.promptTokens) tokens(provider, 'prompt').value += record.promptTokens;
        if (record.completionTokens)
          tokens(provider, 'completion').value += record.completionTokens;
        if (record.cachedTokens) tokens(provider, 'cached').value += record.cachedTokens;
      }
      if (record.costUsd) cost(provider).value += record.costUsd;
      if (record.errorCode === 'RATE_LIMITED' || record.errorCode === 'BUDGET_EXCEEDED')
        refused.inc({ code: record.errorCode });
      if (outcome.request && outcome.request.cache !== 'BYPASS' && !record.errorCode) {
        // A semantic hit missed the exact cache first.
        cache(record.cacheHit && outcome.cacheKind !== 'semantic' ? 'hit' : 'miss').value += 1;
      }
      let upstreamMs = 0;
      for (const attempt of outcome.attempts) {
        upstreamMs += attempt.latencyMs;
        if (attempt.status !== 'ok')
          upstreamErrors.inc({
            provider: providerLabel(names, attempt.provider),
            kind: attempt.status,
          });
      }
      if (!record.stream && record.status === 'ok')
        overhead()(Math.max(0, record.latencyMs - upstreamMs) / 1000);
    },
  };
}
