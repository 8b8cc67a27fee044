/**
 * One tenant cannot take a key away from all: a key refused with 401 leaves its pool (with an
 * alert) and is probed after a backoff that doubles while it is still refused; when the
 * provider takes it again it is back, no reload needed. A provider with no probe lets the key
 * back on trial. A key cooled by a 429 on one replica is skipped by the other from its very
 * next request: the change reaches it through Redis pub/sub, not the end of its local view.
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKeyPools } from '../../src/gateway/keys.js';
import { createCooldowns } from '../../src/state/cooldowns.js';
import { escapeGlob, unlinkMatching } from '../../src/state/redis.js';
import { createOpenAIFake, openaiCompletion, openaiErrors, resolveReply } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { createFakeUpstream } from '../helpers/fake-upstream.js';
import { describeRedis, redisUrl, testPrefix, useRedis } from '../helpers/redis.js';
import { startWebhook } from '../usage-e2e/harness.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
      attempts {
        status
      }
    }
  }
`;
const PROVIDERS = '{ providers { name keys availableKeys } }';
const keyOf = (headers: IncomingMessage['headers']) =>
  headers.authorization?.replace('Bearer ', '');

let serial = 0;
const input = (model: string) => ({
  input: { model, messages: [{ role: 'USER', content: `health ${++serial}` }], cache: 'BYPASS' },
});

describe('a key refused with 401', () => {
  const flaky = 'sk-flaky-key-5d2a9e07c13b';
  const steady = 'sk-steady-key-81c4f0a6e29d';

  it('is probed after a doubling backoff and comes back, without a reload, once it is taken', async () => {
    let refusalsLeft = 3; // the request that disables it, then two probes
    const probes: { at: number; status: number }[] = [];
    const upstream = await createFakeUpstream((call) => {
      const key = keyOf(call.headers);
      const refused = key === flaky && refusalsLeft > 0;
      if (refused) refusalsLeft--;
      const status = refused ? 401 : 200;
      if (call.method === 'GET') {
        probes.push({ at: Date.now(), status });
        if (call.url !== '/v1/models') return { kind: 'json', status: 404, body: {} };
        return refused
          ? { kind: 'json', status, body: openaiErrors.wrongKey(flaky) }
          : { kind: 'json', body: { object: 'list', data: [] } };
      }
      if (refused) return { kind: 'json', status, body: openaiErrors.wrongKey(flaky) };
      return {
        kind: 'json',
        body: openaiCompletion(resolveReply({ text: `with ${key}` }, call.json)),
      };
    });
    onDispose(() => upstream.close());
    const hook = await startWebhook();
    const gw = await startConduit({
      providers: {
        up: {
          type: 'openai',
          baseUrl: `${upstream.url}/v1`,
          keys: [flaky, steady],
          keyProbe: { afterMs: 50, maxAfterMs: 400 },
        },
      },
      alerts: { webhookUrl: hook.url },
      retry: { attempts: 1 },
      cache: { enabled: false },
    });
    const available = async () =>
      (await gql(gw.graphqlUrl, PROVIDERS)).body.data.providers[0].availableKeys;

    const disabledAt = Date.now();
    const first = await gql(gw.graphqlUrl, COMPLETE, input('up/gpt-4o-mini'));
    expect(first.body.data.complete.attempts).toEqual([{ status: 'auth' }, { status: 'ok' }]);
    await hook.received(1);
    expect(hook.posts[0]!.body).toMatchObject({
      type: 'key_disabled',
      provider: 'up',
      keyIndex: 0,
    });
    expect(await available()).toBe(1);

    // Refused twice more, then taken: back in the pool.
    await vi.waitFor(() => expect(probes.map((p) => p.status)).toEqual([401, 401, 200]), {
      timeout: 5000,
      interval: 10,
    });
    await vi.waitFor(async () => expect(await available()).toBe(2), { timeout: 2000 });
    // Each wait twice the one before (timers never fire early by more than a clock tick).
    expect(probes[0]!.at - disabledAt).toBeGreaterThanOrEqual(45);
    expect(probes[1]!.at - probes[0]!.at).toBeGreaterThanOrEqual(95);
    expect(probes[2]!.at - probes[1]!.at).toBeGreaterThanOrEqual(195);

    const from = upstream.calls.length;
    for (let i = 0; i < 2; i++) await gql(gw.graphqlUrl, COMPLETE, input('up/gpt-4o-mini'));
    expect(
      upstream.calls
        .slice(from)
        .map((c) => keyOf(c.headers))
        .sort(),
    ).toEqual([flaky, steady].sort());
    expect(hook.posts).toHaveLength(1); // the probes alert nobody
    expect(gw.logs.join('\n')).toMatch(/key probe: the key is taken again/);
  });

  it('is let back on trial where the provider has no probe, and a new refusal waits longer', async () => {
    const cooldowns = createCooldowns();
    const restored: boolean[] = [];
    let probed!: () => void;
    const pools = createKeyPools(
      new Map([['p', ['key-one-0123456', 'key-two-0123456']]]),
      cooldowns,
      {
        backoff: () => ({ afterMs: 20, maxAfterMs: 1000 }),
        refuses: () => undefined,
        onProbed: (_provider, _index, back) => {
          restored.push(back);
          probed();
        },
      },
    );
    onDispose(() => pools.close());
    const back = () => new Promise<void>((resolve) => (probed = resolve));

    let waiting = back();
    let started = Date.now();
    await pools.disable('p', 0);
    expect((await pools.counts('p')).available).toBe(1);
    await waiting;
    const firstWait = Date.now() - started;
    expect((await pools.counts('p')).available).toBe(2);
    expect((await pools.next('p'))?.index).toBe(0);

    // Refused again on trial: out for twice as long.
    waiting = back();
    started = Date.now();
    await pools.disable('p', 0);
    expect((await pools.next('p'))?.index).toBe(1);
    await waiting;
    expect(Date.now() - started).toBeGreaterThanOrEqual(38);
    expect(firstWait).toBeGreaterThanOrEqual(18);
    expect(restored).toEqual([true, true]);
  });
});

describeRedis('two replicas sharing one Redis', () => {
  const shared = useRedis();
  const run = testPrefix().replace(/\W/g, '_');
  const provider = `health_${run}`;
  const keyA = 'sk-health-key-a-4b7e1c';
  const keyB = 'sk-health-key-b-9d03fa';
  let fake: ProviderFake;
  let one: TestConduit;
  let two: TestConduit;

  beforeAll(async () => {
    fake = await createOpenAIFake({ keys: [keyA, keyB] });
    const config = {
      redis: { url: redisUrl },
      providers: { [provider]: { type: 'openai', baseUrl: fake.baseUrl, keys: [keyA, keyB] } },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      cache: { enabled: false },
    };
    [one, two] = await Promise.all([startConduit(config), startConduit(config)]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await fake?.close();
    if (shared.redis.ready) await unlinkMatching(shared.redis.client, `*${escapeGlob(run)}*`);
  });

  const keysSince = (from: number) => fake.upstream.calls.slice(from).map((c) => keyOf(c.headers));

  it('skips a key the other replica cooled, from its very next request', async () => {
    const model = `${provider}/gpt-4o-mini`;
    // Replica two uses both keys: its view of the pool is fresh, its next key is A.
    let from = fake.upstream.calls.length;
    for (let i = 0; i < 2; i++) await gql(two.graphqlUrl, COMPLETE, input(model));
    expect(keysSince(from)).toEqual([keyA, keyB]);

    const heard = new Promise<void>((resolve) => {
      const stop = two.conduit.services.infra.cooldowns.onChange((changed) => {
        if (changed !== provider) return;
        stop();
        resolve();
      });
    });
    from = fake.upstream.calls.length;
    fake.next({ fail: 'rate_limited', retryAfterSeconds: 60 });
    const cooled = await gql(one.graphqlUrl, COMPLETE, input(model));
    expect(cooled.body.data.complete.attempts).toEqual([
      { status: 'rate_limited' },
      { status: 'ok' },
    ]);
    expect(keysSince(from)).toEqual([keyA, keyB]);

    await heard;
    from = fake.upstream.calls.length;
    const next = await gql(two.graphqlUrl, COMPLETE, input(model));
    expect(next.body.data.complete.attempts).toEqual([{ status: 'ok' }]);
    expect(keysSince(from)).toEqual([keyB]);
  });
});
