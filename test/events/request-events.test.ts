/**
 * Live events with real clients: `requestEvents` over graphql-ws and over SSE (graphql-sse), a
 * client seeing its own and an admin everyone's; two replicas on one Redis, each subscriber
 * getting the other replica's requests; a subscriber whose socket stops reading loses the oldest
 * events (counted) while the rest arrive once it reads again; `providerHealth` pushing a key's
 * rest.
 */
import { createClient as createSseClient } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { wsClient } from '../helpers/clients.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { usageRecord } from '../helpers/databases.js';
import { onDispose } from '../helpers/dispose.js';
import { describeRedis, redisUrl, testPrefix } from '../helpers/redis.js';

const keys = { admin: 'ck-admin-7a1f3c', a: 'ck-app-a-52e9d0', b: 'ck-app-b-c81b44' };
const clients = [
  { id: 'ops', key: keys.admin, admin: true },
  { id: 'app-a', key: keys.a },
  { id: 'app-b', key: keys.b },
];
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      id
    }
  }
`;
const EVENTS = /* GraphQL */ `
  subscription ($filter: RequestEventFilter) {
    requestEvents(filter: $filter) {
      id
      time
      clientId
      user
      alias
      provider
      model
      status
      errorCode
      promptTokens
      completionTokens
      costUsd
      latencyMs
      ttftMs
      cacheHit
      attempts
    }
  }
`;

let serial = 0;
const ask = (url: string, key: string, model = 'echo/echo', user?: string) =>
  gql(
    url,
    COMPLETE,
    { input: { model, user, messages: [{ role: 'USER', content: `event ${++serial}` }] } },
    bearer(key),
  );

/** A subscription's values as they come, with a wait for the n-th. */
function listen<T>(iterator: AsyncIterable<{ data?: any; errors?: readonly unknown[] }>) {
  const values: T[] = [];
  const errors: unknown[] = [];
  let wake = () => {};
  void (async () => {
    for await (const result of iterator) {
      if (result.errors) errors.push(...result.errors);
      else values.push(Object.values(result.data)[0] as T);
      wake();
    }
  })().catch((error: unknown) => {
    errors.push(error);
    wake();
  });
  return {
    values,
    errors,
    /** Resolves once `test` holds on what has come. */
    until: (test: () => boolean, timeoutMs = 5000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`gave up: ${JSON.stringify({ values, errors })}`)),
          timeoutMs,
        );
        const check = () => {
          if (!test()) return;
          clearTimeout(timer);
          resolve();
        };
        wake = check;
        check();
      }),
  };
}

const subscribers = (gw: TestConduit) => gw.conduit.services.infra.events.subscribers;

describe('requestEvents on one replica', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({ providers: { echo: { type: 'echo' } }, clients });
  });
  afterAll(() => gw.stop());

  it('gives an admin every request and a client its own, over WebSocket', async () => {
    const base = subscribers(gw);
    const admin = listen<any>(
      wsClient(gw.wsUrl, `Bearer ${keys.admin}`).iterate({ query: EVENTS }),
    );
    const mine = listen<any>(wsClient(gw.wsUrl, `Bearer ${keys.a}`).iterate({ query: EVENTS }));
    await expect.poll(() => subscribers(gw)).toBe(base + 2);

    const fromA = await ask(gw.graphqlUrl, keys.a, 'echo/echo', 'alice');
    const fromB = await ask(gw.graphqlUrl, keys.b);
    await admin.until(() => admin.values.length === 2);
    expect(admin.values.map((e) => e.clientId)).toEqual(['app-a', 'app-b']);
    expect(admin.values[0]).toMatchObject({
      id: fromA.body.data.complete.id,
      clientId: 'app-a',
      user: 'alice',
      alias: 'echo/echo',
      provider: 'echo',
      model: 'echo',
      status: 'OK',
      errorCode: null,
      cacheHit: false,
      attempts: 1,
    });
    expect(admin.values[0].promptTokens).toBeGreaterThan(0);
    expect(Date.parse(admin.values[0].time)).toBeGreaterThan(Date.now() - 60_000);
    expect(admin.values[1].id).toBe(fromB.body.data.complete.id);

    await mine.until(() => mine.values.length === 1);
    // app-b's request has reached the admin, so it would have reached app-a by now too.
    expect(mine.values.map((e) => e.clientId)).toEqual(['app-a']);
  });

  it('filters by status and model, and tells a client it may not watch another', async () => {
    const base = subscribers(gw);
    const ok = listen<any>(
      wsClient(gw.wsUrl, `Bearer ${keys.admin}`).iterate({
        query: EVENTS,
        variables: { filter: { status: 'OK', model: 'echo/echo' } },
      }),
    );
    const errors = listen<any>(
      wsClient(gw.wsUrl, `Bearer ${keys.admin}`).iterate({
        query: EVENTS,
        variables: { filter: { status: 'ERROR' } },
      }),
    );
    const nosy = listen<any>(
      wsClient(gw.wsUrl, `Bearer ${keys.a}`).iterate({
        query: EVENTS,
        variables: { filter: { clientId: 'app-b' } },
      }),
    );
    await nosy.until(() => nosy.errors.length === 1);
    expect(JSON.stringify(nosy.errors)).toMatch(/FORBIDDEN|only admins/);
    await expect.poll(() => subscribers(gw)).toBe(base + 2);

    await ask(gw.graphqlUrl, keys.a);
    // A model the echo provider does not have: refused upstream, recorded as an error.
    const refused = await ask(gw.graphqlUrl, keys.a, 'nowhere/model');
    expect(refused.body.errors).toBeDefined();
    await ok.until(() => ok.values.length === 1);
    expect(ok.values[0].status).toBe('OK');
    await errors.until(() => errors.values.length === 1);
    expect(errors.values[0]).toMatchObject({ status: 'ERROR', alias: 'nowhere/model' });
    expect(errors.values[0].errorCode).toBeTruthy();
  });

  it('streams over SSE with graphql-sse', async () => {
    const client = createSseClient({
      url: gw.graphqlUrl,
      retryAttempts: 0,
      headers: bearer(keys.b),
    });
    onDispose(async () => client.dispose());
    const base = subscribers(gw);
    const feed = listen<any>(client.iterate({ query: EVENTS }));
    await expect.poll(() => subscribers(gw)).toBe(base + 1);
    const sent = await ask(gw.graphqlUrl, keys.b);
    await feed.until(() => feed.values.length === 1);
    expect(feed.values[0]).toMatchObject({ id: sent.body.data.complete.id, clientId: 'app-b' });
  });
});

describe('a subscriber that reads slowly', () => {
  it('loses the oldest events, counted, and gets the rest once it reads again', async () => {
    // A replica of its own: only this subscriber may drop here.
    const gw = await startConduit({ providers: { echo: { type: 'echo' } }, clients });
    // graphql-ws spoken by hand, to stop reading the socket.
    const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws');
    onDispose(async () => socket.terminate());
    await new Promise((resolve) => socket.once('open', resolve));
    const base = subscribers(gw);
    const received: string[] = [];
    let wake = () => {};
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: EVENTS } }));
      }
      if (message.type === 'next') received.push(message.payload.data.requestEvents.id);
      wake();
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: bearer(keys.admin) }));
    await expect.poll(() => subscribers(gw)).toBe(base + 1);
    (socket as any)._socket.pause();

    const dropped = async () => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const line = text.match(
        /^conduit_request_events_dropped_total\{subscription="requestEvents"\} (\d+)/m,
      );
      return Number(line?.[1] ?? 0);
    };
    const before = await dropped();
    // Published in turns, as requests end, until the stopped reader has lost some.
    const events = gw.conduit.services.infra.events;
    let published = 0;
    while ((await dropped()) === before) {
      for (let i = 0; i < 500; i++, published++) events.publish(usageRecord({ clientId: 'app-a' }));
      await new Promise((resolve) => setImmediate(resolve));
      if (published > 200_000) throw new Error('nothing was dropped');
    }
    const lost = (await dropped()) - before;
    expect(lost).toBeGreaterThan(0);

    (socket as any)._socket.resume();
    await new Promise<void>((resolve) => {
      wake = () => received.length === published - lost && resolve();
      wake();
    });
    expect(received.length).toBe(published - lost);
    expect(await dropped()).toBe(before + lost);
  });
});

describe('providerHealth', () => {
  let fake: ProviderFake;
  beforeAll(async () => {
    fake = await createOpenAIFake({ keys: ['sk-health-a-91c2', 'sk-health-b-5d7e'] });
  });
  afterAll(() => fake.close());

  it("pushes every provider's state, then a key's rest when it happens", async () => {
    const gw = await startConduit({
      providers: {
        echo: { type: 'echo' },
        up: {
          type: 'openai',
          baseUrl: fake.baseUrl,
          keys: ['sk-health-a-91c2', 'sk-health-b-5d7e'],
        },
      },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      cache: { enabled: false },
      events: { healthIntervalMs: 60_000 },
      clients,
    });
    const feed = listen<any>(
      wsClient(gw.wsUrl, `Bearer ${keys.a}`).iterate({
        query: 'subscription { providerHealth { name keys availableKeys healthy circuit } }',
      }),
    );
    await feed.until(() => feed.values.length === 2);
    expect(feed.values).toEqual([
      { name: 'echo', keys: 0, availableKeys: 0, healthy: true, circuit: 'closed' },
      { name: 'up', keys: 2, availableKeys: 2, healthy: true, circuit: 'closed' },
    ]);

    fake.next({ fail: 'rate_limited', retryAfterSeconds: 60 });
    await ask(gw.graphqlUrl, keys.a, 'up/gpt-4o-mini');
    // The key pool's change, not the (minute-long) timer, pushes it.
    await feed.until(() => feed.values.length === 3);
    expect(feed.values[2]).toEqual({
      name: 'up',
      keys: 2,
      availableKeys: 1,
      healthy: true,
      circuit: 'closed',
    });
  });
});

describeRedis('requestEvents across replicas', () => {
  it("gives each replica's subscribers the other replica's requests", async () => {
    const config = {
      providers: { echo: { type: 'echo' } },
      clients,
      redis: { url: redisUrl },
      events: { channel: `${testPrefix()}:events` },
    };
    const one = await startConduit(config);
    const two = await startConduit(config);
    const onOne = listen<any>(
      wsClient(one.wsUrl, `Bearer ${keys.admin}`).iterate({ query: EVENTS }),
    );
    const onTwo = listen<any>(wsClient(two.wsUrl, `Bearer ${keys.a}`).iterate({ query: EVENTS }));
    await expect.poll(() => one.conduit.services.infra.events.receiving).toBe(true);
    await expect.poll(() => two.conduit.services.infra.events.receiving).toBe(true);

    const viaTwo = await ask(two.graphqlUrl, keys.b);
    const viaOne = await ask(one.graphqlUrl, keys.a);
    await onOne.until(() => onOne.values.length === 2);
    expect(onOne.values.map((e) => e.id).sort()).toEqual(
      [viaTwo.body.data.complete.id, viaOne.body.data.complete.id].sort(),
    );
    await onTwo.until(() => onTwo.values.length === 1);
    expect(onTwo.values[0]).toMatchObject({ id: viaOne.body.data.complete.id, clientId: 'app-a' });
  });

  it('keeps a replica quiet while nobody listens, and wakes it when someone subscribes', async () => {
    const config = {
      providers: { echo: { type: 'echo' } },
      clients,
      redis: { url: redisUrl },
      events: { channel: `${testPrefix()}:events` },
    };
    const one = await startConduit(config);
    const two = await startConduit(config);
    const events = one.conduit.services.infra.events;
    // Nobody anywhere: the first event reaches no one, and the replica stops publishing.
    await ask(one.graphqlUrl, keys.a);
    await expect.poll(() => events.quiet).toBe(true);

    const feed = listen<any>(
      wsClient(two.wsUrl, `Bearer ${keys.admin}`).iterate({ query: EVENTS }),
    );
    await expect.poll(() => two.conduit.services.infra.events.receiving).toBe(true);
    // The subscriber's wake reached the quiet replica.
    await expect.poll(() => events.quiet).toBe(false);
    const sent = await ask(one.graphqlUrl, keys.a);
    await feed.until(() => feed.values.length === 1);
    expect(feed.values[0].id).toBe(sent.body.data.complete.id);
  });
});
