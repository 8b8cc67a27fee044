/**
 * Two gateway instances in one process sharing the real Redis at REDIS_URL: a cache hit
 * across instances, a rate limit that holds exactly under concurrent load through both, a key
 * cooldown and a disabled key seen by the other instance, invalidateCache across both. Every
 * name carries a per-run id, so runs and other test files never share keys.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { describeRedis, redisUrl, testPrefix, useRedis } from '../helpers/redis.js';
import { escapeGlob, unlinkMatching } from '../../src/state/redis.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      provider
      content
      cached
      attempts {
        status
      }
    }
  }
`;
const keyA = 'sk-replica-key-a-5e0c7b';
const keyB = 'sk-replica-key-b-91fd24';

describeRedis('two gateways sharing one Redis', () => {
  const shared = useRedis();
  /** In every Redis key this file makes: a provider, client or alias name. */
  const run = testPrefix().replace(/\W/g, '_');
  const provider = `up_${run}`;
  /** Used by the cooldown test only: neither instance has a local view of its pool before. */
  const pooled = `pool_${run}`;
  const alias = `chat_${run}`;
  const client = { id: `app_${run}`, key: `key-app-${run}` };
  const other = { id: `other_${run}`, key: `key-other-${run}` };
  const admin = { id: `ops_${run}`, key: `key-ops-${run}`, admin: true };
  const limit = 10;
  let fake: ProviderFake;
  let one: TestConduit;
  let two: TestConduit;

  const config = () => ({
    redis: { url: redisUrl },
    providers: {
      [provider]: { type: 'openai', baseUrl: fake.baseUrl, keys: [keyA, keyB] },
      [pooled]: { type: 'openai', baseUrl: fake.baseUrl, keys: [keyA, keyB] },
    },
    models: { [alias]: { targets: [{ provider, model: 'gpt-4o-mini' }] } },
    clients: [
      client,
      other,
      admin,
      {
        id: `limited_${run}`,
        key: `key-limited-${run}`,
        rateLimits: [{ requests: limit, perSeconds: 60 }],
      },
    ],
    retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
  });

  beforeAll(async () => {
    fake = await createOpenAIFake({ keys: [keyA, keyB] });
    [one, two] = await Promise.all([startConduit(config()), startConduit(config())]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await fake?.close();
    if (shared.redis.ready) await unlinkMatching(shared.redis.client, `*${escapeGlob(run)}*`);
  });

  const as = (who: { key: string }) => ({ authorization: `Bearer ${who.key}` });
  const complete = async (gw: TestConduit, who: { key: string }, content: string, extra = {}) =>
    (
      await gql(
        gw.graphqlUrl,
        COMPLETE,
        { input: { model: alias, messages: [{ role: 'USER', content }], ...extra } },
        as(who),
      )
    ).body;
  const keysSince = (from: number) =>
    fake.upstream.calls.slice(from).map((c) => c.headers.authorization?.replace('Bearer ', ''));

  it('answers from the cache on one instance what the other stored, for that client only', async () => {
    const from = fake.upstream.calls.length;
    const stored = await complete(one, client, 'shared cache');
    expect(stored.data.complete).toMatchObject({ content: 'shared cache', cached: false });
    const hit = await complete(two, client, 'shared cache');
    expect(hit.data.complete).toMatchObject({ content: 'shared cache', cached: true });
    expect(fake.upstream.calls.length).toBe(from + 1);
    const cached: string[] = [];
    for await (const keys of shared.redis.client.scanIterator({ MATCH: `conduit:cache:*${run}*` }))
      cached.push(...keys);
    expect(cached).toHaveLength(1);
    // Another tenant, on either instance, does not read it.
    expect((await complete(two, other, 'shared cache')).data.complete.cached).toBe(false);
  });

  it('admits exactly the limit between both instances under concurrent load', async () => {
    const limited = { key: `key-limited-${run}` };
    const results = await Promise.all(
      Array.from({ length: limit + 1 }, (_, i) =>
        complete(i % 2 === 0 ? one : two, limited, `load ${i}`, { cache: 'BYPASS' }),
      ),
    );
    const codes = results.map((body) => body.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((code) => code === 'OK')).toHaveLength(limit);
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(1);
    // Both stay refused until the window ends.
    for (const gw of [one, two]) {
      const refused = await complete(gw, limited, 'one more', { cache: 'BYPASS' });
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(50);
    }
  });

  it('shares a key cooldown: the other instance skips the resting key', async () => {
    const model = `${pooled}/gpt-4o-mini`;
    const from = fake.upstream.calls.length;
    fake.next({ fail: 'rate_limited', retryAfterSeconds: 60 });
    const first = await complete(one, client, 'cooldown', { model, cache: 'BYPASS' });
    expect(first.data.complete.attempts).toEqual([{ status: 'rate_limited' }, { status: 'ok' }]);
    expect(keysSince(from)).toEqual([keyA, keyB]);
    // Instance two has never used this pool: its round-robin would start at key A.
    for (let i = 0; i < 2; i++)
      await complete(two, client, `cooldown ${i}`, { model, cache: 'BYPASS' });
    expect(keysSince(from + 2)).toEqual([keyB, keyB]);
    const { body } = await gql(
      two.graphqlUrl,
      '{ providers { name keys availableKeys } }',
      {},
      as(client),
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.providers).toContainEqual({ name: pooled, keys: 2, availableKeys: 1 });
    expect(body.data.providers).toContainEqual({ name: provider, keys: 2, availableKeys: 2 });
  });

  it('drops cached answers for every instance on invalidateCache, and counts them', async () => {
    await complete(one, client, 'to drop');
    await complete(two, other, 'to drop');
    expect((await complete(one, other, 'to drop')).data.complete.cached).toBe(true);
    const denied = await gql(one.graphqlUrl, 'mutation { invalidateCache }', {}, as(client));
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const dropped = await gql(
      two.graphqlUrl,
      'mutation ($model: String) { invalidateCache(model: $model) }',
      { model: alias },
      as(admin),
    );
    // 'shared cache' and 'to drop', each for two clients.
    expect(dropped.body.data.invalidateCache).toBe(4);
    expect((await complete(one, client, 'to drop')).data.complete.cached).toBe(false);
    expect((await complete(two, client, 'shared cache')).data.complete.cached).toBe(false);
  });
});
