/**
 * Routing strategies and circuit breakers: fallback keeps its order; loadbalance follows the
 * weights; latency prefers the target with the lowest recent latency; cost the cheapest by the
 * price table; a target failing 5 times in a row is open (skipped without a call, shown in
 * `providers`) and gets a trial call after its cool-down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOpenAIFake, openaiCompletion, resolveReply } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { createFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      provider
      model
      costUsd
      attempts {
        provider
        status
      }
    }
  }
`;
const PROVIDERS = '{ providers { name healthy circuit } }';

let fake: ProviderFake;
/** An OpenAI upstream that takes 120 ms over each answer. */
let slow: FakeUpstream;
beforeAll(async () => {
  fake = await createOpenAIFake();
  slow = await createFakeUpstream(async (call) => {
    await sleep(120); // the fake is slow on purpose: that is what the latency strategy measures
    return { kind: 'json', body: openaiCompletion(resolveReply({ text: 'slowly' }, call.json)) };
  });
});
afterAll(async () => {
  await fake.close();
  await slow.close();
});

let serial = 0;
async function complete(gw: TestConduit, model: string) {
  const input = { model, messages: [{ role: 'USER', content: `route ${++serial}` }] };
  const { body } = await gql(gw.graphqlUrl, COMPLETE, { input });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data.complete as {
    provider: string;
    model: string;
    costUsd: number;
    attempts: { provider: string; status: string }[];
  };
}

const openai = (baseUrl: string) => ({ type: 'openai', baseUrl, keys: ['sk-up'] });

describe('strategies', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({
      providers: {
        heavy: { type: 'echo' },
        light: { type: 'echo' },
        first: openai(fake.baseUrl),
        second: openai(fake.baseUrl),
        slow: openai(`${slow.url}/v1`),
        fast: openai(fake.baseUrl),
        pricey: openai(fake.baseUrl),
        cheap: openai(fake.baseUrl),
      },
      pricing: {
        'pricey/gpt-4o': { input: 5, output: 15 },
        'cheap/gpt-4o-mini': { input: 0.15, output: 0.6 },
      },
      models: {
        ordered: {
          strategy: 'fallback',
          targets: [
            { provider: 'first', model: 'gpt-4o-mini' },
            { provider: 'second', model: 'gpt-4o-mini' },
          ],
        },
        spread: {
          strategy: 'loadbalance',
          targets: [
            { provider: 'heavy', model: 'echo', weight: 3 },
            { provider: 'light', model: 'echo', weight: 1 },
          ],
        },
        quick: {
          strategy: 'latency',
          targets: [
            { provider: 'slow', model: 'gpt-4o-mini' },
            { provider: 'fast', model: 'gpt-4o-mini' },
          ],
        },
        thrifty: {
          strategy: 'cost',
          targets: [
            { provider: 'pricey', model: 'gpt-4o' },
            { provider: 'cheap', model: 'gpt-4o-mini' },
          ],
        },
      },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      cache: { enabled: false },
    });
  });

  it('fallback: always the first target while it answers', async () => {
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await complete(gw, 'ordered')).provider);
    expect(answers).toEqual(Array(5).fill('first'));
  });

  it('loadbalance: spreads calls by weight (3:1)', async () => {
    const counts = { heavy: 0, light: 0 };
    const calls = 200;
    for (let i = 0; i < calls; i++) counts[(await complete(gw, 'spread')).provider as 'heavy']++;
    expect(counts.heavy + counts.light).toBe(calls);
    // Expected 150 of 200 (sd ≈ 6): well over half, and the light target still gets its share.
    expect(counts.heavy).toBeGreaterThan(calls * 0.6);
    expect(counts.heavy).toBeLessThan(calls * 0.9);
  });

  it('latency: measures each target once, then keeps to the fastest', async () => {
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push((await complete(gw, 'quick')).provider);
    // Unmeasured targets go first, in the configured order; then the lowest EWMA wins.
    expect(answers).toEqual(['slow', ...Array(7).fill('fast')]);
  });

  it('cost: the cheapest target by the price table, the dearer one as its fallback', async () => {
    const cheap = await complete(gw, 'thrifty');
    expect(cheap.provider).toBe('cheap');
    // 11 prompt + 2 completion tokens at 0.15 and 0.60 USD per million.
    expect(cheap.costUsd).toBeCloseTo((11 * 0.15 + 2 * 0.6) / 1e6, 12);
    fake.next({ fail: 'server' });
    const fallback = await complete(gw, 'thrifty');
    expect(fallback.provider).toBe('pricey');
    expect(fallback.attempts.map((a) => [a.provider, a.status])).toEqual([
      ['cheap', 'server'],
      ['pricey', 'ok'],
    ]);
    expect(fallback.costUsd).toBeCloseTo((11 * 5 + 2 * 15) / 1e6, 12);
  });
});

describe('circuit breakers', () => {
  it('open after 5 consecutive failures, skip the target without a call, half-open after the cool-down', async () => {
    const flaky = await createOpenAIFake();
    const gw = await startConduit({
      providers: { flaky: openai(flaky.baseUrl), steady: { type: 'echo' } },
      models: {
        guarded: {
          targets: [
            { provider: 'flaky', model: 'gpt-4o-mini' },
            { provider: 'steady', model: 'echo' },
          ],
        },
      },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      cache: { enabled: false },
    });
    try {
      const circuits = async () =>
        Object.fromEntries(
          ((await gql(gw.graphqlUrl, PROVIDERS)).body.data.providers as any[]).map((p) => [
            p.name,
            [p.circuit, p.healthy],
          ]),
        );
      flaky.next(...Array(5).fill({ fail: 'server' }));
      for (let i = 0; i < 5; i++) {
        expect(await circuits()).toMatchObject({ flaky: ['closed', true] });
        const answer = await complete(gw, 'guarded');
        expect(answer.attempts.map((a) => a.status)).toEqual(['server', 'ok']);
      }
      expect(flaky.upstream.calls).toHaveLength(5);
      expect(await circuits()).toEqual({ flaky: ['open', false], steady: ['closed', true] });

      const skipped = await complete(gw, 'guarded');
      expect(skipped.provider).toBe('steady');
      expect(skipped.attempts).toEqual([{ provider: 'steady', status: 'ok' }]);
      expect(flaky.upstream.calls).toHaveLength(5);
      const direct = await gql(gw.graphqlUrl, COMPLETE, {
        input: { model: 'flaky/gpt-4o-mini', messages: [{ role: 'USER', content: 'direct' }] },
      });
      expect(direct.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
      expect(flaky.upstream.calls).toHaveLength(5);

      // The cool-down (10 s) passes: the next request is the trial call, and it succeeds.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 10_500);
      expect(await circuits()).toMatchObject({ flaky: ['half-open', true] });
      const trial = await complete(gw, 'guarded');
      expect(trial.provider).toBe('flaky');
      expect(flaky.upstream.calls).toHaveLength(6);
      expect(await circuits()).toMatchObject({ flaky: ['closed', true] });
    } finally {
      vi.useRealTimers();
      await flaky.close();
    }
  });
});
