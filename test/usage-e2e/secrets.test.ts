/**
 * Logs and secrets end to end: one pino line per request with the usage fields and no bodies;
 * bodies stored only with `logging.bodies`; and no configured secret (provider keys, client
 * keys) nor a wrong key a caller sent ever appears in a log line, an error, an alert or a metric,
 * whatever happened: good calls, refused keys, a key taken out of its pool, every key refused.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { createSqliteDatabase } from '../helpers/databases.js';
import { onDispose } from '../helpers/dispose.js';
import { bearer, COMPLETE, readRows, startWebhook, waitForRows, type Webhook } from './harness.js';

const secret = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;
const GOOD_KEY = secret('sk-proj-good-');
const BAD_KEY = secret('sk-proj-bad-');
const DOWN_KEY = secret('sk-ant-down-');
const CLIENT_KEY = secret('ck-web-');
const ADMIN_KEY = secret('ck-admin-');
const WRONG_KEY = secret('ck-wrong-');
const SECRETS = [GOOD_KEY, BAD_KEY, DOWN_KEY, CLIENT_KEY, ADMIN_KEY, WRONG_KEY];
/** The random part alone: a secret cut or re-encoded still shows it. */
const CORES = SECRETS.map((s) => s.slice(-24));

describe('logs, alerts, errors and metrics never show a secret', () => {
  let fake: ProviderFake;
  let webhook: Webhook;
  let gw: TestConduit;
  const seen: string[] = [];
  const database = createSqliteDatabase();

  const post = async (path: string, body: unknown, key?: string) => {
    const response = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key && bearer(key)) },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    seen.push(text, JSON.stringify(Object.fromEntries(response.headers)));
    return { status: response.status, text };
  };
  const graphql = (query: string, variables: unknown, key?: string) =>
    post('/graphql', { query, variables }, key);
  const input = (model: string, content = 'hello') => ({
    input: { model, messages: [{ role: 'USER', content }], cache: 'BYPASS', user: 'u1' },
  });

  beforeAll(async () => {
    fake = await createOpenAIFake({ keys: [GOOD_KEY] });
    webhook = await startWebhook();
    gw = await startConduit({
      database: { url: database.url },
      providers: {
        up: { type: 'openai', baseUrl: fake.baseUrl, keys: [BAD_KEY, GOOD_KEY] },
        down: { type: 'openai', baseUrl: fake.baseUrl, keys: [DOWN_KEY] },
      },
      clients: [
        { id: 'web', key: CLIENT_KEY },
        { id: 'ops', key: ADMIN_KEY, admin: true },
      ],
      alerts: { webhookUrl: webhook.url },
      retry: { attempts: 1 },
    });

    // A key the upstream refuses (taken out of the pool, alerted), then the good one.
    expect((await graphql(COMPLETE, input('up/gpt-4o-mini'), CLIENT_KEY)).status).toBe(200);
    expect((await graphql(COMPLETE, input('up/gpt-4o-mini'), WRONG_KEY)).text).toContain(
      'UNAUTHENTICATED',
    );
    expect((await graphql(COMPLETE, input('down/gpt-4o-mini'), CLIENT_KEY)).text).toContain(
      'UPSTREAM_ERROR',
    );
    const rest = { model: 'up/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
    expect((await post('/v1/chat/completions', rest, CLIENT_KEY)).status).toBe(200);
    expect(
      (await post('/v1/chat/completions', { ...rest, stream: true }, CLIENT_KEY)).text,
    ).toContain('[DONE]');
    expect((await post('/v1/chat/completions', rest, WRONG_KEY)).status).toBe(401);
    expect((await post('/v1/chat/completions', rest)).status).toBe(401);

    const client = createClient({
      url: gw.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${CLIENT_KEY}` },
    });
    onDispose(() => client.dispose());
    for await (const result of client.iterate({
      query:
        'subscription ($input: CompletionInput!) { completionStream(input: $input) { delta done } }',
      variables: input('up/gpt-4o-mini', 'over the socket'),
    }))
      seen.push(JSON.stringify(result));
    const refused = createClient({
      url: gw.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${WRONG_KEY}` },
    });
    onDispose(() => refused.dispose());
    const closed = await refused
      .iterate({ query: '{ viewer { id } }' })
      .next()
      .catch((event: { code: number; reason: string }) => event);
    expect((closed as { code: number }).code).toBe(4401);

    seen.push((await graphql('{ providers { name keys availableKeys } }', {}, ADMIN_KEY)).text);
    seen.push((await graphql('{ usage(groupBy: [CLIENT]) { requests } }', {}, ADMIN_KEY)).text);
    seen.push(await (await fetch(`${gw.url}/metrics`)).text());
    await webhook.received(2);
    await waitForRows(database.url, 5);
  });

  afterAll(async () => {
    await gw?.stop();
    await fake?.close();
    await database.drop();
  });

  it('writes one line per request with its usage fields and no bodies', () => {
    const lines = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    // GraphQL: ok, refused upstream; REST: ok, stream; WebSocket: stream.
    expect(lines).toHaveLength(5);
    const ok = lines.find((l) => l.status === 'ok' && l.stream === false)!;
    expect(ok).toMatchObject({
      clientId: 'web',
      user: 'u1',
      alias: 'up/gpt-4o-mini',
      provider: 'up',
      model: 'gpt-4o-mini',
      errorCode: null,
      promptTokens: 11,
      cacheHit: false,
      attempts: 2,
      priced: true,
      estimated: false,
    });
    for (const field of ['requestId', 'completionTokens', 'cachedTokens', 'costUsd', 'latencyMs'])
      expect(ok).toHaveProperty(field);
    expect(lines.find((l) => l.status === 'error')).toMatchObject({ errorCode: 'UPSTREAM_ERROR' });
    expect(lines.some((l) => 'prompt' in l || 'response' in l)).toBe(false);
    expect(gw.logs.join('\n')).not.toContain('over the socket');
  });

  it('alerts the key taken out of its pool by provider and index, never by value', () => {
    const disabled = webhook.posts.map((p) => p.body).filter((b) => b.type === 'key_disabled');
    expect(disabled.map((b) => [b.provider, b.keyIndex]).sort()).toEqual([
      ['down', 0],
      ['up', 0],
    ]);
  });

  it('shows no secret in any log line, response, error, alert or metric', async () => {
    const captured = [
      ...gw.logs,
      ...seen,
      ...webhook.posts.map((p) => JSON.stringify(p.body)),
      JSON.stringify(await readRows(database.url)),
    ].join('\n');
    expect(captured.length).toBeGreaterThan(10_000);
    for (const needle of [...SECRETS, ...CORES]) expect(captured).not.toContain(needle);
  });
});

describe('logging.bodies', () => {
  it('stores prompts and answers only when it is on', async () => {
    const stored: Record<string, unknown>[] = [];
    for (const bodies of [false, true]) {
      const database = createSqliteDatabase();
      onDispose(() => database.drop());
      const gw = await startConduit({
        database: { url: database.url },
        providers: { demo: { type: 'echo' } },
        logging: { bodies },
      });
      const { body } = await gql(gw.graphqlUrl, COMPLETE, {
        input: { model: 'demo/echo', messages: [{ role: 'USER', content: 'remember me' }] },
      });
      expect(body.data.complete.content).toBe('remember me');
      await gw.stop();
      stored.push(...(await readRows(database.url)));
    }
    expect(stored.map((r) => [r.prompt, r.response])).toEqual([
      [null, null],
      [JSON.stringify([{ role: 'user', content: 'remember me' }]), 'remember me'],
    ]);
  });
});
