/**
 * /metrics end to end: after real traffic (answers, a stream, a cache hit, refusals by a rate
 * limit and a budget, upstream failures that open a circuit), every series the issue lists
 * holds the exact counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { bearer, COMPLETE, sample } from './harness.js';

const price = { input: 0.15e-6, output: 0.6e-6 };

describe('/metrics', () => {
  let up: ProviderFake;
  let flaky: ProviderFake;
  let gw: TestConduit;
  let text = '';
  let flakyTries = 0;
  const ask = async (model: string, key = 'ck-web', extra: Record<string, unknown> = {}) =>
    (
      await gql(
        gw.graphqlUrl,
        COMPLETE,
        {
          input: {
            model,
            messages: [{ role: 'USER', content: 'count me' }],
            cache: 'BYPASS',
            ...extra,
          },
        },
        bearer(key),
      )
    ).body;

  beforeAll(async () => {
    up = await createOpenAIFake();
    flaky = await createOpenAIFake();
    gw = await startConduit({
      providers: {
        up: { type: 'openai', baseUrl: up.baseUrl, keys: ['sk-up-metrics'] },
        flaky: { type: 'openai', baseUrl: flaky.baseUrl, keys: ['sk-flaky-metrics'] },
      },
      clients: [
        { id: 'web', key: 'ck-web' },
        { id: 'limited', key: 'ck-limited', rateLimits: [{ requests: 1, perSeconds: 60 }] },
        { id: 'broke', key: 'ck-broke', budget: { usd: 0 } },
      ],
      retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 5 },
    });

    up.next(
      { usage: { prompt: 100, completion: 10 } },
      { fail: 'rate_limited', retryAfterSeconds: 0 },
      { usage: { prompt: 20, completion: 2 } },
      { usage: { prompt: 13, completion: 4 } },
    );
    const cached = { cache: 'DEFAULT' };
    expect((await ask('up/gpt-4o-mini', 'ck-web', cached)).data.complete.cached).toBe(false);
    expect((await ask('up/gpt-4o-mini', 'ck-web', cached)).data.complete.cached).toBe(true);
    expect((await ask('up/gpt-4o-mini')).data.complete.usage.promptTokens).toBe(20);
    const stream = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('ck-web') },
      body: JSON.stringify({
        model: 'up/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'stream' }],
      }),
    });
    expect(await stream.text()).toContain('[DONE]');

    expect((await ask('up/gpt-4o-mini', 'ck-limited')).data.complete).toBeTruthy();
    expect((await ask('up/gpt-4o-mini', 'ck-limited')).errors?.[0].extensions.code).toBe(
      'RATE_LIMITED',
    );
    expect((await ask('up/gpt-4o-mini', 'ck-broke')).errors?.[0].extensions.code).toBe(
      'BUDGET_EXCEEDED',
    );

    // Five consecutive failed tries open the circuit of flaky/gpt-4o-mini.
    flaky.next(...Array.from({ length: 6 }, () => ({ fail: 'server' as const })));
    for (let i = 0; i < 3; i++) {
      expect((await ask('flaky/gpt-4o-mini')).errors?.[0].extensions.code).toBe('UPSTREAM_ERROR');
    }
    flakyTries = flaky.upstream.calls.length;

    text = await (await fetch(`${gw.url}/metrics`)).text();
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    await flaky?.close();
  });

  const metric = (name: string, labels: Record<string, string> = {}) => sample(text, name, labels);
  const model = { provider: 'up', model: 'gpt-4o-mini' };

  it('counts requests by provider, model and status', () => {
    expect(metric('conduit_requests_total', { ...model, status: 'ok' })).toBe(5);
    expect(
      metric('conduit_requests_total', {
        provider: 'flaky',
        model: 'gpt-4o-mini',
        status: 'UPSTREAM_ERROR',
      }),
    ).toBe(3);
    const refused = { provider: 'none', model: 'none' };
    expect(metric('conduit_requests_total', { ...refused, status: 'RATE_LIMITED' })).toBe(1);
    expect(metric('conduit_requests_total', { ...refused, status: 'BUDGET_EXCEEDED' })).toBe(1);
    expect(metric('conduit_refused_total', { code: 'RATE_LIMITED' })).toBe(1);
    expect(metric('conduit_refused_total', { code: 'BUDGET_EXCEEDED' })).toBe(1);
  });

  it('observes latency, time to first token and gateway overhead', () => {
    const latency = 'conduit_request_duration_seconds_count';
    expect(metric(latency, { provider: 'up', stream: 'false' })).toBe(4);
    expect(metric(latency, { provider: 'up', stream: 'true' })).toBe(1);
    expect(metric('conduit_time_to_first_token_seconds_count', { provider: 'up' })).toBe(1);
    expect(metric('conduit_gateway_overhead_seconds_count')).toBe(4);
    expect(metric('conduit_gateway_overhead_seconds_sum')).toBeGreaterThan(0);
  });

  it('counts tokens, cost, cache hits and misses', () => {
    // Only what the provider served: the cache hit's 100 + 10 tokens are not counted again.
    expect(metric('conduit_tokens_total', { provider: 'up', kind: 'prompt' })).toBe(
      100 + 20 + 13 + 11,
    );
    expect(metric('conduit_tokens_total', { provider: 'up', kind: 'completion' })).toBe(
      10 + 2 + 4 + 2,
    );
    expect(metric('conduit_cost_usd_total', { provider: 'up' })).toBeCloseTo(
      (100 + 20 + 13 + 11) * price.input + (10 + 2 + 4 + 2) * price.output,
      15,
    );
    expect(metric('conduit_cache_requests_total', { result: 'hit' })).toBe(1);
    // The first cached call, and the REST stream (REST asks the cache by default).
    expect(metric('conduit_cache_requests_total', { result: 'miss' })).toBe(2);
  });

  it('counts upstream errors by kind and shows the open circuit', () => {
    expect(metric('conduit_upstream_errors_total', { provider: 'up', kind: 'rate_limited' })).toBe(
      1,
    );
    expect(flakyTries).toBe(5);
    expect(metric('conduit_upstream_errors_total', { provider: 'flaky', kind: 'server' })).toBe(5);
    expect(metric('conduit_open_circuits')).toBe(1);
  });

  it('shows the usage queue depth and drops', () => {
    expect(metric('conduit_usage_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(metric('conduit_usage_records_dropped_total')).toBe(0);
  });
});
