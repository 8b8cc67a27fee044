/**
 * Session tokens end to end, over real sockets: an app's backend mints a token with its client
 * key; the browser's token then runs `complete` and `completionStream` over HTTP, WebSocket
 * (graphql-ws) and SSE (graphql-sse), and the REST edge (the openai SDK with the token as its
 * apiKey). The token's user is fixed (a request naming another is counted as the token's), its
 * per-user rate limit and budget hold, its maxTokensPerRequest caps the answer. Expired, forged
 * and out-of-bounds tokens are refused saying why, and a client removed or re-keyed by a reload
 * loses its tokens at once (open WebSockets closed with 4401). No secret reaches a log.
 */
import { createClient as createSseClient } from 'graphql-sse';
import { SignJWT } from 'jose';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { collect, wsClient } from '../helpers/clients.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const KEY = 'ck-shop-backend-key-0001';
const OTHER_KEY = 'ck-shop-backend-key-0002';
const ADMIN_KEY = 'ck-ops-admin-key-0001';
const SECRET = 'session-secret-for-tests-0123456789abcdef';
const env = { SESSION_SECRET: SECRET, SHOP_KEY: KEY, ADMIN_KEY };

/** $0.001 an answer token: an answer of 10 words costs $0.01. */
const PER_TOKEN = 0.001;
const TEN_WORDS = 'one two three four five six seven eight nine ten';

const MINT = /* GraphQL */ `
  mutation ($input: SessionTokenInput!) {
    createSessionToken(input: $input) {
      token
      expiresAt
      clientId
      user
      models
    }
  }
`;
const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
      costUsd
    }
  }
`;
const STREAM = /* GraphQL */ `
  subscription ($input: CompletionInput!) {
    completionStream(input: $input) {
      delta
      done
    }
  }
`;

const rawConfig = (clientKey = '${SHOP_KEY}', withShop = true) => ({
  providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys: ['sk-up-session'] } },
  pricing: { 'up/gpt-4o-mini': { input: 0, output: PER_TOKEN * 1e6 } },
  clients: [
    ...(withShop ? [{ id: 'shop', key: clientKey, models: ['up/gpt-4o-mini', 'up/gpt-4o'] }] : []),
    { id: 'ops', key: '${ADMIN_KEY}', admin: true },
  ],
  auth: { sessionTokens: { secret: '${SESSION_SECRET}', maxTtlSeconds: 600 } },
  rateLimits: { perUser: [{ requests: 4, perSeconds: 3600 }] },
  cache: { enabled: false },
  retry: { attempts: 1 },
});

let fake: ProviderFake;
let gw: TestConduit;

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
const input = (extra: Record<string, unknown> = {}) => ({
  model: 'up/gpt-4o-mini',
  messages: [{ role: 'USER', content: TEN_WORDS }],
  ...extra,
});

async function mint(fields: Record<string, unknown>, key = KEY) {
  const { status, body } = await gql(gw.graphqlUrl, MINT, { input: fields }, bearer(key));
  return { status, body, token: body.data?.createSessionToken?.token as string };
}

async function complete(token: string, extra: Record<string, unknown> = {}) {
  return gql(gw.graphqlUrl, COMPLETE, { input: input(extra) }, bearer(token));
}

beforeAll(async () => {
  fake = await createOpenAIFake();
  onDispose(() => fake.close());
  gw = await startConduit(rawConfig(), env);
});

describe('minting', () => {
  it('gives a backend holding the client key a token bound to the client and user', async () => {
    const before = Date.now();
    const { body, token } = await mint({
      user: 'alice',
      ttlSeconds: 120,
      models: ['up/gpt-4o-mini'],
    });
    expect(body.errors).toBeUndefined();
    expect(body.data.createSessionToken).toMatchObject({
      clientId: 'shop',
      user: 'alice',
      models: ['up/gpt-4o-mini'],
    });
    const expiresAt = Date.parse(body.data.createSessionToken.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 120_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(token.split('.')).toHaveLength(3);
  });

  it('caps the ttl at auth.sessionTokens.maxTtlSeconds', async () => {
    const { body } = await mint({ user: 'alice', ttlSeconds: 86_400 });
    const expiresAt = Date.parse(body.data.createSessionToken.expiresAt);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(expiresAt).toBeGreaterThan(Date.now() + 500_000);
  });

  it('never widens the models: one outside the client list is refused', async () => {
    const { body } = await mint({ user: 'alice', models: ['up/gpt-4o-mini', 'up/o3'] });
    expect(body.errors?.[0]).toMatchObject({
      message: `model "up/o3" is outside client "shop"'s models`,
      extensions: { code: 'BAD_USER_INPUT', field: 'models' },
    });
    const glob = await mint({ user: 'alice', models: ['up/*'] });
    expect(glob.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('is refused to a token (only a key mints) and without a key', async () => {
    const { token } = await mint({ user: 'alice' });
    const again = await mint({ user: 'eve' }, token);
    expect(again.body.errors?.[0]).toMatchObject({
      message: 'a token cannot mint tokens: call with the client key',
      extensions: { code: 'FORBIDDEN' },
    });
    const none = await gql(gw.graphqlUrl, MINT, { input: { user: 'eve' } });
    expect(none.status).toBe(401);
  });
});

describe('a token wherever a key works', () => {
  it('runs complete over HTTP, the user fixed by the token', async () => {
    const { token } = await mint({ user: 'carol' });
    const { status, body } = await complete(token, { user: 'mallory' });
    expect(status).toBe(200);
    expect(body.data.complete).toEqual({ content: TEN_WORDS, costUsd: 0.01 });
    const usage = await gql(
      gw.graphqlUrl,
      '{ usage(filter: { client: "shop" }, groupBy: [USER]) { groups { user requests } } }',
      {},
      bearer(ADMIN_KEY),
    );
    expect(usage.body.data.usage.groups).toEqual([{ user: 'carol', requests: 1 }]);
    // The token's own usage report is its user's only.
    const own = await gql(gw.graphqlUrl, '{ usage { requests } }', {}, bearer(token));
    expect(own.body.data.usage.requests).toBe(1);
  });

  it('runs completionStream over WebSocket and SSE', async () => {
    const { token } = await mint({ user: 'dave' });
    const ws = wsClient(gw.wsUrl, `Bearer ${token}`);
    const sse = createSseClient({ url: gw.graphqlUrl, headers: bearer(token), retryAttempts: 0 });
    onDispose(() => sse.dispose());
    for (const client of [ws, sse]) {
      const results = await collect(
        client.iterate({ query: STREAM, variables: { input: input() } }),
      );
      const text = results.map((r) => (r.data as any)?.completionStream.delta ?? '').join('');
      expect(text).toBe(TEN_WORDS);
      expect(results.at(-1)?.data).toMatchObject({ completionStream: { done: true } });
    }
    // And complete over WebSocket.
    const done = await ws.iterate({ query: COMPLETE, variables: { input: input() } }).next();
    expect(done.value).toEqual({ data: { complete: { content: TEN_WORDS, costUsd: 0.01 } } });
  });

  it('is the apiKey of the openai SDK on /v1', async () => {
    const { token } = await mint({ user: 'erin' });
    const openai = new OpenAI({ apiKey: token, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const answer = await openai.chat.completions.create({
      model: 'up/gpt-4o-mini',
      messages: [{ role: 'user', content: TEN_WORDS }],
      user: 'mallory',
    });
    expect(answer.choices[0]?.message.content).toBe(TEN_WORDS);
    const stream = await openai.chat.completions.create({
      model: 'up/gpt-4o-mini',
      messages: [{ role: 'user', content: TEN_WORDS }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(TEN_WORDS);
    const forged = new OpenAI({ apiKey: `${token}x`, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const refused = await forged.models.list().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as Error).message).toContain('session token has a bad signature');
  });
});

describe("a token's bounds", () => {
  it("holds the user's per-user limit, whatever user a request names", async () => {
    const { token } = await mint({ user: 'frank' });
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await complete(token, { user: `someone-${i}` });
      codes.push(body.errors?.[0].extensions.code ?? 'OK');
    }
    expect(codes).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED']);
    // Another user of the same client is not held by frank's window.
    const other = await mint({ user: 'grace' });
    expect((await complete(other.token)).body.data.complete.costUsd).toBe(0.01);
  });

  it("holds the token's budgetUsd for its user", async () => {
    const { token } = await mint({ user: 'heidi', budgetUsd: 0.025 });
    const first = await complete(token, { maxTokens: 10 });
    const second = await complete(token, { maxTokens: 10 });
    const third = await complete(token, { maxTokens: 10 });
    expect([first, second].map((r) => r.body.data?.complete.costUsd)).toEqual([0.01, 0.01]);
    expect(third.body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('the budget of user "heidi" of client "shop" ($0.025)'),
      extensions: { code: 'BUDGET_EXCEEDED', budgetUsd: 0.025 },
    });
    // A new token for the same user shares the user's spend: the budget is the user's.
    const again = await mint({ user: 'heidi', budgetUsd: 0.025 });
    expect((await complete(again.token, { maxTokens: 10 })).body.errors?.[0].extensions.code).toBe(
      'BUDGET_EXCEEDED',
    );
  });

  it('caps maxTokens at maxTokensPerRequest', async () => {
    const { token } = await mint({ user: 'ivan', maxTokensPerRequest: 7 });
    const calls = fake.upstream.calls.length;
    await complete(token, { maxTokens: 500 });
    await complete(token);
    const sent = fake.upstream.calls.slice(calls).map((c) => {
      const json = c.json as { max_tokens?: number; max_completion_tokens?: number };
      return json.max_completion_tokens ?? json.max_tokens;
    });
    expect(sent).toEqual([7, 7]);
  });

  it('refuses a model outside the token list, and outside the client list', async () => {
    const { token } = await mint({ user: 'judy', models: ['up/gpt-4o'] });
    const { body } = await complete(token);
    expect(body.errors?.[0].extensions.code).toBe('FORBIDDEN');
    const { body: wider } = await complete(token, { model: 'up/o3' });
    expect(wider.errors?.[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('refusals', () => {
  const sign = (claims: Record<string, unknown>, secret: string, exp: number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('conduit')
      .setAudience('conduit')
      .setSubject('mallory')
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));

  async function refusedEverywhere(token: string, message: string) {
    const http = await gql(gw.graphqlUrl, '{ viewer { id } }', {}, bearer(token));
    expect(http.status).toBe(401);
    expect(http.body.errors?.[0]).toMatchObject({
      message,
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const rest = await fetch(`${gw.url}/v1/models`, { headers: bearer(token) });
    expect(rest.status).toBe(401);
    expect(((await rest.json()) as any).error.message).toBe(message);
    const ws = wsClient(gw.wsUrl, `Bearer ${token}`);
    const closed = await ws
      .iterate({ query: '{ viewer { id } }' })
      .next()
      .catch((event: unknown) => event as { code: number; reason: string });
    expect(closed).toMatchObject({ code: 4401, reason: message });
  }

  it('refuses an expired token, saying so', async () => {
    const { token } = await mint({ user: 'alice' });
    const { kid } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    const expired = await sign({ cid: 'shop', kid }, SECRET, Math.floor(Date.now() / 1000) - 60);
    await refusedEverywhere(expired, 'session token expired');
  });

  it('refuses a forged token (another secret, or a changed payload), saying so', async () => {
    const { token } = await mint({ user: 'alice' });
    const { kid } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    const exp = Math.floor(Date.now() / 1000) + 60;
    const forged = await sign({ cid: 'shop', kid }, 'another-secret-0123456789abcdef-xyz', exp);
    await refusedEverywhere(forged, 'session token has a bad signature');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const widened = Buffer.from(JSON.stringify({ ...claims, models: ['*'] })).toString('base64url');
    await refusedEverywhere(
      `${header}.${widened}.${signature}`,
      'session token has a bad signature',
    );
  });

  it('keeps every secret and token out of the logs', () => {
    const text = gw.logs.join('');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(KEY);
    expect(text).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });
});

describe('revoking a client', () => {
  it('refuses its tokens at once when a reload re-keys or removes it, and closes their sockets', async () => {
    const own = await startConduit(rawConfig(), env);
    const mintHere = async (user: string) =>
      (await gql(own.graphqlUrl, MINT, { input: { user } }, bearer(KEY))).body.data
        .createSessionToken.token as string;
    const token = await mintHere('alice');
    expect((await gql(own.graphqlUrl, '{ viewer { id } }', {}, bearer(token))).body.data).toEqual({
      viewer: { id: 'shop' },
    });
    const ws = wsClient(own.wsUrl, `Bearer ${token}`);
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('closed', (event) => resolve(event as { code: number; reason: string })),
    );
    expect((await ws.iterate({ query: '{ viewer { id } }' }).next()).value).toEqual({
      data: { viewer: { id: 'shop' } },
    });

    // Re-keyed: the token was minted under the old key.
    await own.conduit.reload(
      parseConfig({ ...rawConfig(OTHER_KEY), database: { url: 'sqlite::memory:' } }, env),
    );
    const rekeyed = `session token was minted under a key client "shop" no longer has (its key changed or it was revoked)`;
    const http = await gql(own.graphqlUrl, '{ viewer { id } }', {}, bearer(token));
    expect([http.status, http.body.errors?.[0].message]).toEqual([401, rekeyed]);
    expect(await closed).toMatchObject({ code: 4401 });

    // Removed: a token minted under the new key is refused once the client is gone.
    const fresh = (await gql(own.graphqlUrl, MINT, { input: { user: 'bob' } }, bearer(OTHER_KEY)))
      .body.data.createSessionToken.token as string;
    await own.conduit.reload(
      parseConfig({ ...rawConfig(OTHER_KEY, false), database: { url: 'sqlite::memory:' } }, env),
    );
    const gone = await fetch(`${own.url}/v1/models`, { headers: bearer(fresh) });
    expect(gone.status).toBe(401);
    expect(((await gone.json()) as any).error.message).toBe(
      'session token names an unknown client "shop"',
    );
  });
});
