/**
 * The exact cache, in memory: a hit makes no upstream call and says so (GraphQL `cached`, REST
 * `x-conduit-cache`), replays as chunks over graphql-ws; BYPASS and REFRESH; one tenant never
 * reads another's answers unless `scope: global`; errors and broken streams are never cached;
 * entries expire and the store is bounded; invalidateCache is for admins and counts.
 */
import { createClient } from 'graphql-ws';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      id
      provider
      content
      cached
      costUsd
      usage {
        totalTokens
      }
      attempts {
        status
      }
    }
  }
`;
const STREAM = /* GraphQL */ `
  subscription ($input: CompletionInput!) {
    completionStream(input: $input) {
      id
      delta
      cached
      done
      finishReason
      usage {
        totalTokens
      }
    }
  }
`;
const INVALIDATE = 'mutation ($model: String) { invalidateCache(model: $model) }';

const keys = { a: 'key-tenant-a', b: 'key-tenant-b', admin: 'key-admin' };
const clients = [
  { id: 'tenant-a', key: keys.a },
  { id: 'tenant-b', key: keys.b },
  { id: 'ops', key: keys.admin, admin: true },
];

let fake: ProviderFake;
beforeAll(async () => {
  fake = await createOpenAIFake();
});
afterAll(() => fake.close());

function gateway(extra: Record<string, unknown> = {}): Promise<TestConduit> {
  return startConduit({
    providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys: ['sk-up'] } },
    models: { chat: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }] } },
    retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
    clients,
    ...extra,
  });
}

const input = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'chat',
  messages: [{ role: 'USER', content }],
  ...extra,
});

async function complete(gw: TestConduit, key: string, variables: Record<string, unknown>) {
  const { body } = await gql(gw.graphqlUrl, COMPLETE, { input: variables }, bearer(key));
  return body;
}
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function stream(gw: TestConduit, key: string, variables: Record<string, unknown>) {
  const client = createClient({
    url: gw.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${key}` },
  });
  onDispose(() => client.dispose());
  const results: any[] = [];
  for await (const result of client.iterate({ query: STREAM, variables: { input: variables } }))
    results.push(result);
  await client.dispose();
  return results;
}

describe('the exact cache in memory', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await gateway();
  });

  it('answers a repeated request from the cache without an upstream call', async () => {
    const before = fake.upstream.calls.length;
    const first = await complete(gw, keys.a, input('cache: same question'));
    expect(first.data.complete).toMatchObject({
      content: 'cache: same question',
      cached: false,
      attempts: [{ status: 'ok' }],
    });
    const second = await complete(gw, keys.a, input('cache: same question'));
    expect(second.data.complete).toMatchObject({
      provider: 'up',
      content: 'cache: same question',
      cached: true,
      costUsd: 0,
      attempts: [],
    });
    expect(second.data.complete.usage).toEqual(first.data.complete.usage);
    expect(second.data.complete.id).not.toBe(first.data.complete.id);
    expect(fake.upstream.calls.length).toBe(before + 1);
  });

  it('answers the second of two equal mutations in one document from the cache', async () => {
    const before = fake.upstream.calls.length;
    const { body } = await gql(
      gw.graphqlUrl,
      /* GraphQL */ `
        mutation ($input: CompletionInput!) {
          first: complete(input: $input) {
            cached
          }
          second: complete(input: $input) {
            cached
          }
        }
      `,
      { input: input('cache: twice in one document') },
      bearer(keys.a),
    );
    expect(body.data).toEqual({ first: { cached: false }, second: { cached: true } });
    expect(fake.upstream.calls.length).toBe(before + 1);
  });

  it('keys on every answer-changing parameter', async () => {
    const before = fake.upstream.calls.length;
    await complete(gw, keys.a, input('cache: params', { temperature: 0.1 }));
    const other = await complete(gw, keys.a, input('cache: params', { temperature: 0.9 }));
    expect(other.data.complete.cached).toBe(false);
    expect(fake.upstream.calls.length).toBe(before + 2);
  });

  it('says HIT or MISS in x-conduit-cache over REST, and obeys the header', async () => {
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: keys.a, maxRetries: 0 });
    const params = { model: 'chat', messages: [{ role: 'user' as const, content: 'rest cache' }] };
    const before = fake.upstream.calls.length;
    const miss = await sdk.chat.completions.create(params).withResponse();
    expect(miss.response.headers.get('x-conduit-cache')).toBe('MISS');
    const hit = await sdk.chat.completions.create(params).withResponse();
    expect(hit.response.headers.get('x-conduit-cache')).toBe('HIT');
    expect(hit.data.choices[0]!.message.content).toBe('rest cache');
    expect(fake.upstream.calls.length).toBe(before + 1);
    const bypass = await sdk.chat.completions
      .create(params, { headers: { 'x-conduit-cache': 'bypass' } })
      .withResponse();
    expect(bypass.response.headers.get('x-conduit-cache')).toBe('MISS');
    expect(fake.upstream.calls.length).toBe(before + 2);
    // The GraphQL side reads what REST stored (same client, same request).
    const viaGraphql = await complete(gw, keys.a, input('rest cache'));
    expect(viaGraphql.data.complete.cached).toBe(true);
  });

  it('neither reads nor fills the cache on BYPASS', async () => {
    const before = fake.upstream.calls.length;
    const a = await complete(gw, keys.a, input('cache: bypass', { cache: 'BYPASS' }));
    const b = await complete(gw, keys.a, input('cache: bypass', { cache: 'BYPASS' }));
    expect([a.data.complete.cached, b.data.complete.cached]).toEqual([false, false]);
    const c = await complete(gw, keys.a, input('cache: bypass'));
    expect(c.data.complete.cached).toBe(false); // BYPASS stored nothing
    expect(fake.upstream.calls.length).toBe(before + 3);
  });

  it('asks upstream again on REFRESH and stores the new answer', async () => {
    fake.next({ text: 'old answer' });
    await complete(gw, keys.a, input('cache: refresh'));
    fake.next({ text: 'new answer' });
    const refreshed = await complete(gw, keys.a, input('cache: refresh', { cache: 'REFRESH' }));
    expect(refreshed.data.complete).toMatchObject({ content: 'new answer', cached: false });
    const after = await complete(gw, keys.a, input('cache: refresh'));
    expect(after.data.complete).toMatchObject({ content: 'new answer', cached: true });
  });

  it('never lets one tenant read another tenant’s cached answer', async () => {
    fake.next({ text: 'secret for tenant a' }, { text: 'answer for tenant b' });
    const before = fake.upstream.calls.length;
    const a = await complete(gw, keys.a, input('cache: tenants'));
    const b = await complete(gw, keys.b, input('cache: tenants'));
    expect(a.data.complete).toMatchObject({ content: 'secret for tenant a', cached: false });
    expect(b.data.complete).toMatchObject({ content: 'answer for tenant b', cached: false });
    expect(fake.upstream.calls.length).toBe(before + 2);
    const again = await complete(gw, keys.b, input('cache: tenants'));
    expect(again.data.complete).toMatchObject({ content: 'answer for tenant b', cached: true });
  });

  it('never caches an error', async () => {
    fake.next({ fail: 'server' });
    const failed = await complete(gw, keys.a, input('cache: error first'));
    expect(failed.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    const before = fake.upstream.calls.length;
    const next = await complete(gw, keys.a, input('cache: error first'));
    expect(next.data.complete).toMatchObject({ content: 'cache: error first', cached: false });
    expect(fake.upstream.calls.length).toBe(before + 1);
  });

  it('replays a hit on completionStream as chunks over graphql-ws, without an upstream call', async () => {
    const text = 'one two three four';
    const first = await stream(gw, keys.a, input(text));
    expect(first.every((r) => r.data.completionStream.cached === false)).toBe(true);
    const before = fake.upstream.calls.length;
    const replay = (await stream(gw, keys.a, input(text))).map((r) => r.data.completionStream);
    expect(fake.upstream.calls.length).toBe(before);
    expect(replay.length).toBeGreaterThan(2);
    expect(replay.every((c) => c.cached === true)).toBe(true);
    expect(new Set(replay.map((c) => c.id)).size).toBe(1);
    expect(replay.map((c) => c.delta).join('')).toBe(text);
    expect(replay.filter((c) => c.done)).toHaveLength(1);
    expect(replay.at(-1)).toMatchObject({ done: true, finishReason: 'STOP' });
    expect(replay.at(-1).usage.totalTokens).toBe(
      first.at(-1).data.completionStream.usage.totalTokens,
    );
    // The stream filled the same entry a plain complete reads.
    const plain = await complete(gw, keys.a, input(text));
    expect(plain.data.complete).toMatchObject({ content: text, cached: true });
  });

  it('caches a stream only once it is complete', async () => {
    fake.next({ fail: 'cut_after_first_token', text: 'partial' });
    const cut = await stream(gw, keys.a, input('cache: cut stream'));
    expect(cut.at(-1).errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    const before = fake.upstream.calls.length;
    const next = await complete(gw, keys.a, input('cache: cut stream'));
    expect(next.data.complete).toMatchObject({ content: 'cache: cut stream', cached: false });
    expect(fake.upstream.calls.length).toBe(before + 1);
  });

  it('lets only admins invalidate, and counts what was dropped', async () => {
    const denied = await gql(gw.graphqlUrl, INVALIDATE, {}, bearer(keys.a));
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await complete(gw, keys.a, input('cache: still there'));
    expect((await complete(gw, keys.a, input('cache: still there'))).data.complete.cached).toBe(
      true,
    );

    const direct = await gateway();
    await complete(direct, keys.a, input('drop 1'));
    await complete(direct, keys.b, input('drop 2'));
    await complete(direct, keys.a, input('drop 3', { model: 'up/gpt-4o-mini' }));
    const one = await gql(
      direct.graphqlUrl,
      INVALIDATE,
      { model: 'up/gpt-4o-mini' },
      bearer(keys.admin),
    );
    expect(one.body.data.invalidateCache).toBe(1);
    const rest = await gql(direct.graphqlUrl, INVALIDATE, {}, bearer(keys.admin));
    expect(rest.body.data.invalidateCache).toBe(2);
    const after = await complete(direct, keys.a, input('drop 1'));
    expect(after.data.complete.cached).toBe(false);
    expect((await gql(direct.graphqlUrl, INVALIDATE, {}, bearer(keys.admin))).body.data).toEqual({
      invalidateCache: 1,
    });
  });
});

describe('cache settings', () => {
  it('shares answers between tenants with scope: global', async () => {
    const gw = await gateway({ cache: { scope: 'global' } });
    const before = fake.upstream.calls.length;
    await complete(gw, keys.a, input('global: shared'));
    const b = await complete(gw, keys.b, input('global: shared'));
    expect(b.data.complete).toMatchObject({ content: 'global: shared', cached: true });
    expect(fake.upstream.calls.length).toBe(before + 1);
  });

  it('keeps at most maxEntries answers in memory', async () => {
    const gw = await gateway({ cache: { maxEntries: 2 } });
    for (const text of ['lru 1', 'lru 2', 'lru 3']) await complete(gw, keys.a, input(text));
    expect((await complete(gw, keys.a, input('lru 3'))).data.complete.cached).toBe(true);
    expect((await complete(gw, keys.a, input('lru 1'))).data.complete.cached).toBe(false);
  });

  it('forgets an answer after ttlSeconds', async () => {
    const gw = await gateway({ cache: { ttlSeconds: 60 } });
    await complete(gw, keys.a, input('ttl: short-lived'));
    expect((await complete(gw, keys.a, input('ttl: short-lived'))).data.complete.cached).toBe(true);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 61_000);
      expect((await complete(gw, keys.a, input('ttl: short-lived'))).data.complete.cached).toBe(
        false,
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it('caches nothing when disabled', async () => {
    const gw = await gateway({ cache: { enabled: false } });
    await complete(gw, keys.a, input('disabled'));
    expect((await complete(gw, keys.a, input('disabled'))).data.complete.cached).toBe(false);
  });
});
