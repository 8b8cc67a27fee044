/**
 * /metrics stays bounded whatever model names callers make up: provider and model label values
 * come from the config (providers, aliases, targets, `models:` lists, pricing keys, the built-in
 * price table), anything else is `other`. Echo and a provider without a `models` list answer any
 * model name, so made-up names do reach the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { sample } from './harness.js';

const madeUp = 300;

describe('/metrics label values', () => {
  let up: ProviderFake;
  let gw: TestConduit;
  let text = '';

  const ask = async (model: string) => {
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ck-labels' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await response.arrayBuffer();
    return response.status;
  };

  beforeAll(async () => {
    up = await createOpenAIFake();
    gw = await startConduit({
      providers: {
        echo: { type: 'echo', models: ['echo-listed'] },
        oc: { type: 'openai-compatible', baseUrl: up.baseUrl },
        listed: { type: 'openai', baseUrl: up.baseUrl, keys: ['sk-listed'], models: ['base'] },
      },
      models: { fast: { targets: [{ provider: 'echo', model: 'echo-target' }] } },
      pricing: { 'oc/priced-model': { input: 1, output: 1 } },
      clients: [{ id: 'labels', key: 'ck-labels' }],
      cache: { enabled: false },
    });

    // Configured names, each once.
    expect(await ask('fast')).toBe(200);
    expect(await ask('echo/echo-listed')).toBe(200);
    expect(await ask('oc/priced-model')).toBe(200);
    expect(await ask('oc/gpt-4o-mini')).toBe(200);
    // The upstream answers with a dated snapshot of a listed model: counted as the model asked.
    up.next({ model: 'base-2026-01-01' });
    expect(await ask('listed/base')).toBe(200);
    // Made-up names: answered by echo and by the provider without a list, or refused as unknown.
    for (let i = 0; i < madeUp; i += 30) {
      const batch = Array.from({ length: 30 }, (_, j) => i + j);
      const statuses = await Promise.all(
        batch.flatMap((n) => [
          ask(`echo/made-up-${n}`),
          ask(`oc/made-up-${n}`),
          ask(`nope/made-up-${n}`),
        ]),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    }
    text = await (await fetch(`${gw.url}/metrics`)).text();
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const requests = (labels: Record<string, string>) =>
    sample(text, 'conduit_requests_total', { status: 'ok', ...labels });

  it('keeps configured names as they are', () => {
    expect(requests({ provider: 'echo', model: 'echo-target' })).toBe(1);
    expect(requests({ provider: 'echo', model: 'echo-listed' })).toBe(1);
    expect(requests({ provider: 'oc', model: 'priced-model' })).toBe(1);
    expect(requests({ provider: 'oc', model: 'gpt-4o-mini' })).toBe(1);
    expect(requests({ provider: 'listed', model: 'base' })).toBe(1);
  });

  it('counts every made-up name as other, in a bounded number of series', () => {
    expect(text).not.toContain('made-up');
    expect(requests({ provider: 'echo', model: 'other' })).toBe(madeUp);
    expect(requests({ provider: 'oc', model: 'other' })).toBe(madeUp);
    expect(
      sample(text, 'conduit_requests_total', {
        provider: 'none',
        model: 'none',
        status: 'BAD_USER_INPUT',
      }),
    ).toBe(madeUp);
    const series = text.split('\n').filter((line) => line.startsWith('conduit_requests_total{'));
    expect(series.length).toBeLessThanOrEqual(8);
  });
});
