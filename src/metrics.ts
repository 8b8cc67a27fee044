/** prom-client metrics, one registry per Conduit instance (tests run several in one process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UsageRecord } from './usage/store.js';

export interface Metrics {
  registry: Registry;
  requests: Counter<'provider' | 'model' | 'status'>;
  latency: Histogram<'provider'>;
  tokens: Counter<'kind'>;
  inFlight: Gauge;
  observe(record: UsageRecord): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'conduit_requests_total',
    help: 'Completion requests by provider, model and status (ok or an error code)',
    labelNames: ['provider', 'model', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'conduit_request_duration_seconds',
    help: 'Completion latency, end to end',
    labelNames: ['provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'conduit_tokens_total',
    help: 'Tokens by kind (prompt, completion, cached)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'conduit_http_requests_in_flight',
    help: 'HTTP requests and WebSocket subscriptions being served',
    registers: [registry],
  });

  return {
    registry,
    requests,
    latency,
    tokens,
    inFlight,
    observe(record) {
      const provider = record.provider ?? 'none';
      requests.inc({ provider, model: record.model ?? 'none', status: record.errorCode ?? 'ok' });
      latency.observe({ provider }, record.latencyMs / 1000);
      if (record.promptTokens) tokens.inc({ kind: 'prompt' }, record.promptTokens);
      if (record.completionTokens) tokens.inc({ kind: 'completion' }, record.completionTokens);
      if (record.cachedTokens) tokens.inc({ kind: 'cached' }, record.cachedTokens);
    },
  };
}
