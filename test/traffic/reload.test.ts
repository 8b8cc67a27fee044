/**
 * A reload keeps what the running gateway has counted and takes access away at once: with the
 * same config, rate-limit windows and key rests carry on (a changed limit starts afresh), and a
 * client removed or given another key loses its open WebSockets (4403) while the others keep
 * theirs.
 */
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseConfig } from '../../src/config/load.js';
import { createOpenAIFake } from '../fakes/openai.js';
import { collect } from '../helpers/clients.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
    }
  }
`;

let serial = 0;
const input = (model = 'demo/echo') => ({
  input: { model, messages: [{ role: 'USER', content: `reload ${++serial}` }] },
});

const reload = (gw: TestConduit, raw: Record<string, unknown>) =>
  gw.conduit.reload(parseConfig({ database: { url: 'sqlite::memory:' }, ...raw }, {}));

describe('reload keeps state', () => {
  it('keeps a client rate-limit window when its limit is unchanged, and starts afresh when it changes', async () => {
    const raw = (requests: number) => ({
      providers: { demo: { type: 'echo' } },
      clients: [
        { id: 'limited', key: 'key-limited', rateLimits: [{ requests, perSeconds: 60 }] },
        { id: 'other', key: 'key-other', rateLimits: [{ requests: 5, perSeconds: 60 }] },
      ],
    });
    const gw = await startConduit(raw(30));
    const call = async () => {
      const { body } = await gql(gw.graphqlUrl, COMPLETE, input(), {
        authorization: 'Bearer key-limited',
      });
      return body.errors?.[0]?.extensions?.code ?? 'ok';
    };
    for (let i = 0; i < 30; i++) expect(await call()).toBe('ok');
    expect(await call()).toBe('RATE_LIMITED');

    await reload(gw, raw(30));
    expect(await call()).toBe('RATE_LIMITED');
    await reload(gw, raw(30));
    expect(await call()).toBe('RATE_LIMITED');

    // A new limit is a new window.
    await reload(gw, raw(40));
    expect(await call()).toBe('ok');
  });

  it('keeps a key resting after a 429 when the provider is unchanged, and frees it when its keys change', async () => {
    const fake = await createOpenAIFake();
    onDispose(() => fake.close());
    const raw = (keys: string[]) => ({
      providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys } },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      cache: { enabled: false },
    });
    const gw = await startConduit(raw(['sk-rest-a-5d1f', 'sk-rest-b-93ce']));
    const available = async () =>
      (await gql(gw.graphqlUrl, '{ providers { availableKeys } }')).body.data.providers[0]
        .availableKeys;
    fake.next({ fail: 'rate_limited', retryAfterSeconds: 60 });
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input('up/gpt-4o-mini'));
    expect(body.data.complete.content).toMatch(/^reload/);
    expect(await available()).toBe(1);

    await reload(gw, raw(['sk-rest-a-5d1f', 'sk-rest-b-93ce']));
    expect(await available()).toBe(1);

    await reload(gw, raw(['sk-rest-a-5d1f', 'sk-rest-c-20ab']));
    expect(await available()).toBe(2);
  });
});

/** A graphql-ws client connected now (not lazily), with every close code it has seen. */
async function connect(url: string, key: string): Promise<{ client: Client; closes: number[] }> {
  const closes: number[] = [];
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    // The close is what the test waits for: not an error to print.
    onNonLazyError: () => {},
    connectionParams: { authorization: `Bearer ${key}` },
    on: { closed: (event) => closes.push((event as { code: number }).code) },
  });
  onDispose(() => client.dispose());
  await new Promise<void>((resolve, reject) => {
    client.on('connected', () => resolve());
    client.on('error', reject);
  });
  return { client, closes };
}

const completeOver = (client: Client) =>
  collect(client.iterate({ query: COMPLETE, variables: input() })).then(
    (results) => (results[0]?.data as { complete?: { content: string } })?.complete?.content,
  );

describe('reload takes access away', () => {
  it('closes the WebSockets of a client removed or re-keyed with 4403, and keeps the others', async () => {
    const clients = (changed: boolean) => [
      ...(changed ? [] : [{ id: 'removed', key: 'key-removed' }]),
      { id: 'rekeyed', key: changed ? 'key-rekeyed-new' : 'key-rekeyed' },
      { id: 'kept', key: 'key-kept' },
    ];
    const raw = (changed: boolean) => ({
      providers: { demo: { type: 'echo' } },
      clients: clients(changed),
    });
    const gw = await startConduit(raw(false));
    const removed = await connect(gw.wsUrl, 'key-removed');
    const rekeyed = await connect(gw.wsUrl, 'key-rekeyed');
    const kept = await connect(gw.wsUrl, 'key-kept');
    for (const { client } of [removed, rekeyed, kept])
      expect(await completeOver(client)).toMatch(/^reload/);

    const gone = [removed, rekeyed].map(
      ({ client }) => new Promise<void>((resolve) => client.on('closed', () => resolve())),
    );
    await reload(gw, raw(true));

    // Neither gets another answer with its old key: its socket was closed with 4403.
    for (const { client } of [removed, rekeyed])
      await expect(completeOver(client)).rejects.toBeTruthy();
    await Promise.all(gone);
    expect(removed.closes[0]).toBe(4403);
    expect(rekeyed.closes[0]).toBe(4403);
    // The unchanged client's socket goes on.
    expect(await completeOver(kept.client)).toMatch(/^reload/);
    expect(kept.closes).toEqual([]);
    expect(gw.logs.join('\n')).toMatch(/"closed":2.*config reloaded/);
  });
});
