/**
 * Key pools: round-robin; a key that gets 429 rests and the next key answers at once; a key
 * that gets 401 leaves the pool with an alert (log + webhook) naming the provider, never the
 * key; `providers` counts available and total keys. `reload` swaps keys, clients and models
 * while a request already running finishes on the old config.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createOpenAIFake, openaiCompletion, resolveReply } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { createFakeUpstream } from '../helpers/fake-upstream.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      provider
      content
      attempts {
        status
      }
    }
  }
`;
const PROVIDERS = '{ providers { name keys availableKeys healthy } }';

const keyA = 'sk-pool-key-a-3f9c2e71d8b4';
const keyB = 'sk-pool-key-b-a61d07c95e32';
const keyC = 'sk-pool-key-c-0b84f2d6a719';

let serial = 0;
const input = (model = 'up/gpt-4o-mini') => ({
  input: { model, messages: [{ role: 'USER', content: `keys ${++serial}` }] },
});
const keyOf = (headers: IncomingMessage['headers']) =>
  headers.authorization?.replace('Bearer ', '');
const keysUsed = (fake: ProviderFake, from: number) =>
  fake.upstream.calls.slice(from).map((call) => keyOf(call.headers));

async function providers(gw: TestConduit) {
  return (await gql(gw.graphqlUrl, PROVIDERS)).body.data.providers;
}

/** A local webhook that records every POSTed JSON body. */
async function startWebhook() {
  const received: { body: string; json: any }[] = [];
  let notify = () => {};
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    received.push({ body, json: JSON.parse(body) });
    res.writeHead(204).end();
    notify();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onDispose(() => new Promise((resolve) => server.close(resolve)));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    /** Resolves once `count` alerts have arrived. */
    until: (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => received.length >= count && resolve();
        notify = check;
        check();
      }),
  };
}

describe('key pools', () => {
  let fake: ProviderFake;
  beforeAll(async () => {
    fake = await createOpenAIFake({ keys: [keyA, keyB, keyC] });
  });
  afterAll(() => fake.close());

  const gateway = (keys: string[], extra: Record<string, unknown> = {}) =>
    startConduit({
      providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys } },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      cache: { enabled: false },
      ...extra,
    });

  it('spreads calls over the keys round-robin', async () => {
    const gw = await gateway([keyA, keyB, keyC]);
    const from = fake.upstream.calls.length;
    for (let i = 0; i < 6; i++) await gql(gw.graphqlUrl, COMPLETE, input());
    expect(keysUsed(fake, from)).toEqual([keyA, keyB, keyC, keyA, keyB, keyC]);
    expect(await providers(gw)).toEqual([{ name: 'up', keys: 3, availableKeys: 3, healthy: true }]);
  });

  it('rests a key that got 429 and answers with the next key at once', async () => {
    const gw = await gateway([keyA, keyB]);
    const from = fake.upstream.calls.length;
    fake.next({ fail: 'rate_limited', retryAfterSeconds: 60 });
    const started = performance.now();
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input());
    expect(performance.now() - started).toBeLessThan(1000);
    expect(body.data.complete.attempts).toEqual([{ status: 'rate_limited' }, { status: 'ok' }]);
    expect(keysUsed(fake, from)).toEqual([keyA, keyB]);
    expect(await providers(gw)).toEqual([{ name: 'up', keys: 2, availableKeys: 1, healthy: true }]);
    // While A rests, every call goes to B.
    for (let i = 0; i < 3; i++) await gql(gw.graphqlUrl, COMPLETE, input());
    expect(keysUsed(fake, from + 2)).toEqual([keyB, keyB, keyB]);

    // Its retry delay (60 s) over, A is back in the round.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 61_000);
      expect((await providers(gw))[0].availableKeys).toBe(2);
      for (let i = 0; i < 2; i++) await gql(gw.graphqlUrl, COMPLETE, input());
      expect(keysUsed(fake, from + 5)).toEqual([keyA, keyB]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('says so when every key rests', async () => {
    const gw = await gateway([keyA]);
    fake.next({ fail: 'rate_limited', retryAfterSeconds: 60 });
    const first = await gql(gw.graphqlUrl, COMPLETE, input());
    expect(first.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    const from = fake.upstream.calls.length;
    const second = await gql(gw.graphqlUrl, COMPLETE, input());
    expect(second.body.errors?.[0]?.message).toMatch(/every key of up is resting or disabled/);
    expect(fake.upstream.calls.length).toBe(from);
    expect(await providers(gw)).toEqual([
      { name: 'up', keys: 1, availableKeys: 0, healthy: false },
    ]);
  });

  it('takes a key that got 401 out of the pool and alerts by log and webhook, never showing the key', async () => {
    const hook = await startWebhook();
    const wrong = 'sk-revoked-key-7d1e5c9a04b8f62e';
    const gw = await gateway([wrong, keyB], { alerts: { webhookUrl: hook.url } });
    const from = fake.upstream.calls.length;
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input());
    expect(body.data.complete.attempts).toEqual([{ status: 'auth' }, { status: 'ok' }]);
    expect(keysUsed(fake, from)).toEqual([wrong, keyB]);

    await hook.until(1);
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.json).toMatchObject({
      type: 'key_disabled',
      provider: 'up',
      keyIndex: 0,
      service: 'conduit',
    });
    expect(hook.received[0]!.body).not.toContain(wrong);
    expect(hook.received[0]!.body).not.toContain(wrong.slice(3, -4));
    const logs = gw.logs.join('\n');
    expect(logs).toMatch(/alert: key_disabled/);
    expect(logs).not.toContain(wrong);

    expect(await providers(gw)).toEqual([{ name: 'up', keys: 2, availableKeys: 1, healthy: true }]);
    for (let i = 0; i < 3; i++) await gql(gw.graphqlUrl, COMPLETE, input());
    expect(keysUsed(fake, from + 2)).toEqual([keyB, keyB, keyB]);
    expect(hook.received).toHaveLength(1); // one alert per key, not one per request

    // A reload that changes the provider's keys gives its pool a fresh start.
    const config = gw.conduit.services.config;
    const up = { ...config.providers.up!, keys: [keyA, keyB] };
    await gw.conduit.reload({ ...config, providers: { up } });
    expect((await providers(gw))[0].availableKeys).toBe(2);
  });
});

describe('reload', () => {
  it('lets a running request finish on the old config, and applies keys, clients and models after', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const upstream = await createFakeUpstream(async (call, index) => {
      if (index === 0) {
        arrived();
        await gate;
      }
      const reply = resolveReply({ text: `answered with ${keyOf(call.headers)}` }, call.json);
      return { kind: 'json', body: openaiCompletion(reply) };
    });
    onDispose(() => upstream.close());
    const raw = (key: string, client: string, alias: string) => ({
      providers: { up: { type: 'openai', baseUrl: `${upstream.url}/v1`, keys: [key] } },
      models: { [alias]: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }] } },
      clients: [{ id: client, key: `key-${client}` }],
      cache: { enabled: false },
    });
    const gw = await startConduit(raw(keyA, 'old-client', 'old-alias'));
    const as = (client: string) => ({ authorization: `Bearer key-${client}` });

    const running = gql(gw.graphqlUrl, COMPLETE, input('old-alias'), as('old-client'));
    await first;
    const next = parseConfig(
      { database: { url: 'sqlite::memory:' }, ...raw(keyB, 'new-client', 'new-alias') },
      {},
    );
    await gw.conduit.reload(next);
    release();
    const finished = await running;
    expect(finished.body.errors).toBeUndefined();
    expect(finished.body.data.complete.content).toBe(`answered with ${keyA}`);

    const oldClient = await gql(gw.graphqlUrl, COMPLETE, input('new-alias'), as('old-client'));
    expect(oldClient.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const oldAlias = await gql(gw.graphqlUrl, COMPLETE, input('old-alias'), as('new-client'));
    expect(oldAlias.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const fresh = await gql(gw.graphqlUrl, COMPLETE, input('new-alias'), as('new-client'));
    expect(fresh.body.data.complete.content).toBe(`answered with ${keyB}`);
    expect(gw.logs.join('\n')).toMatch(/config reloaded/);
  });
});
