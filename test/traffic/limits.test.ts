/**
 * Rate limits in one process (memory): per client over several windows, per end user, global;
 * RATE_LIMITED with retryAfterSeconds (and REST's 429 with Retry-After); a token limit reserves
 * an estimate while the request runs and settles with the real usage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimatePromptTokens } from '../../src/usage/tokens.js';
import { openaiCompletion, resolveReply } from '../fakes/openai.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { createFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
      usage {
        totalTokens
      }
    }
  }
`;

/**
 * An OpenAI upstream that holds each answer until `release()`; `arrived(n)` resolves once n
 * requests are waiting. Every answer uses 5 + 5 tokens.
 */
async function createGatedUpstream() {
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const waiters: { count: number; resolve: () => void }[] = [];
  let waiting = 0;
  const upstream: FakeUpstream = await createFakeUpstream(async (call) => {
    waiting++;
    for (const w of waiters) if (waiting >= w.count) w.resolve();
    await gate;
    waiting--;
    const reply = resolveReply({ text: 'gated', usage: { prompt: 5, completion: 5 } }, call.json);
    return { kind: 'json', body: openaiCompletion(reply) };
  });
  return {
    upstream,
    baseUrl: `${upstream.url}/v1`,
    arrived: (count: number) =>
      new Promise<void>((resolve) => {
        if (waiting >= count) resolve();
        else waiters.push({ count, resolve });
      }),
    release() {
      open();
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    /** Answers at once from now on. */
    openForGood: () => {
      open();
      gate = Promise.resolve();
    },
  };
}

let gated: Awaited<ReturnType<typeof createGatedUpstream>>;
beforeAll(async () => {
  gated = await createGatedUpstream();
  gated.openForGood();
});
afterAll(() => gated.upstream.close());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
let serial = 0;
/** A fresh prompt each time, so no answer comes from the cache. */
const input = (extra: Record<string, unknown> = {}) => ({
  model: 'up/gpt-4o-mini',
  messages: [{ role: 'USER', content: `limits ${++serial}` }],
  ...extra,
});
const call = async (gw: TestConduit, key: string, extra: Record<string, unknown> = {}) =>
  (await gql(gw.graphqlUrl, COMPLETE, { input: input(extra) }, bearer(key))).body;
const codeOf = (body: { errors?: any[] }) => body.errors?.[0]?.extensions?.code ?? 'OK';

function gateway(raw: Record<string, unknown>, baseUrl = gated.baseUrl): Promise<TestConduit> {
  return startConduit({
    providers: { up: { type: 'openai', baseUrl, keys: ['sk-up'] } },
    retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
    ...raw,
  });
}

describe('request limits', () => {
  it('admits a client’s requests up to its limit, then says RATE_LIMITED with retryAfterSeconds', async () => {
    const gw = await gateway({
      clients: [
        { id: 'small', key: 'key-small', rateLimits: [{ requests: 3, perSeconds: 60 }] },
        { id: 'other', key: 'key-other' },
      ],
    });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push(codeOf(await call(gw, 'key-small')));
    expect(codes).toEqual(['OK', 'OK', 'OK']);
    const refused = await call(gw, 'key-small');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    const seconds = refused.errors![0].extensions.retryAfterSeconds;
    expect(seconds).toBeGreaterThanOrEqual(55);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(refused.errors![0].message).toMatch(/3 requests per 60 s/);
    // A limit is per client: another client goes on.
    expect(codeOf(await call(gw, 'key-other'))).toBe('OK');

    // Over REST: 429 with Retry-After, OpenAI's error shape.
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('key-small') },
      body: JSON.stringify({
        model: 'up/gpt-4o-mini',
        messages: [{ role: 'user', content: 'rest limited' }],
      }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(55);
    expect(((await response.json()) as any).error.message).toMatch(/rate limit/);
  });

  it('holds every window: the tightest decides, and its wait is the one given', async () => {
    const gw = await gateway({
      clients: [
        {
          id: 'windows',
          key: 'key-windows',
          rateLimits: [
            { requests: 10, perSeconds: 60 },
            { requests: 2, perSeconds: 3600 },
          ],
        },
      ],
    });
    expect(codeOf(await call(gw, 'key-windows'))).toBe('OK');
    expect(codeOf(await call(gw, 'key-windows'))).toBe('OK');
    const refused = await call(gw, 'key-windows');
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(3500);
  });

  it('limits each end user on their own, and requests without a user not at all', async () => {
    const gw = await gateway({
      clients: [{ id: 'app', key: 'key-app' }],
      rateLimits: { perUser: [{ requests: 2, perSeconds: 60 }] },
    });
    const alice = [];
    for (let i = 0; i < 3; i++) alice.push(codeOf(await call(gw, 'key-app', { user: 'alice' })));
    expect(alice).toEqual(['OK', 'OK', 'RATE_LIMITED']);
    expect(codeOf(await call(gw, 'key-app', { user: 'bob' }))).toBe('OK');
    for (let i = 0; i < 3; i++) expect(codeOf(await call(gw, 'key-app'))).toBe('OK');
  });

  it('holds a global limit across clients', async () => {
    const gw = await gateway({
      clients: [
        { id: 'one', key: 'key-one' },
        { id: 'two', key: 'key-two' },
      ],
      rateLimits: { global: [{ requests: 3, perSeconds: 60 }] },
    });
    const codes = [];
    for (const key of ['key-one', 'key-two', 'key-one', 'key-two'])
      codes.push(codeOf(await call(gw, key)));
    expect(codes).toEqual(['OK', 'OK', 'OK', 'RATE_LIMITED']);
  });

  it('gives a refused request back to the other limits it passed', async () => {
    const gw = await gateway({
      clients: [{ id: 'app', key: 'key-app', rateLimits: [{ requests: 3, perSeconds: 60 }] }],
      rateLimits: { perUser: [{ requests: 1, perSeconds: 60 }] },
    });
    expect(codeOf(await call(gw, 'key-app', { user: 'carol' }))).toBe('OK');
    // Refused per user twice: the client's window must not count those.
    expect(codeOf(await call(gw, 'key-app', { user: 'carol' }))).toBe('RATE_LIMITED');
    expect(codeOf(await call(gw, 'key-app', { user: 'carol' }))).toBe('RATE_LIMITED');
    expect(codeOf(await call(gw, 'key-app', { user: 'dave' }))).toBe('OK');
    expect(codeOf(await call(gw, 'key-app', { user: 'erin' }))).toBe('OK');
    expect(codeOf(await call(gw, 'key-app', { user: 'frank' }))).toBe('RATE_LIMITED');
  });
});

describe('token limits', () => {
  const content = 'count my tokens';
  const prompt = estimatePromptTokens([{ role: 'user', content }]);
  // The same prompt each time, past the cache.
  const asked = { maxTokens: 40, cache: 'BYPASS', messages: [{ role: 'USER', content }] };
  const estimate = prompt + asked.maxTokens;
  const limit = 100;

  it('reserves the estimate while a request runs', async () => {
    expect(Math.floor(limit / estimate)).toBe(2); // two estimates fit, not three
    const upstream = await createGatedUpstream();
    const gw = await gateway(
      { clients: [{ id: 'tok', key: 'key-tok', rateLimits: [{ tokens: limit, perSeconds: 60 }] }] },
      upstream.baseUrl,
    );
    try {
      const running = [call(gw, 'key-tok', asked), call(gw, 'key-tok', asked)];
      await upstream.arrived(2);
      const third = await call(gw, 'key-tok', asked);
      expect(third.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect(third.errors![0].message).toMatch(/100 tokens per 60 s/);
      upstream.release();
      expect((await Promise.all(running)).map(codeOf)).toEqual(['OK', 'OK']);
    } finally {
      upstream.openForGood();
      await upstream.upstream.close();
    }
  });

  it('settles each request with its real usage', async () => {
    const gw = await gateway({
      clients: [{ id: 'tok', key: 'key-tok', rateLimits: [{ tokens: limit, perSeconds: 60 }] }],
    });
    const used = 10; // every answer: 5 prompt + 5 completion tokens
    // Settled, each request leaves 10 tokens behind; unsettled, each would leave its estimate.
    let admitted = 0;
    while (admitted * used + estimate <= limit) {
      const body = await call(gw, 'key-tok', asked);
      expect(codeOf(body)).toBe('OK');
      expect(body.data.complete.usage.totalTokens).toBe(used);
      admitted++;
    }
    expect(admitted).toBeGreaterThan(Math.floor(limit / estimate));
    const refused = await call(gw, 'key-tok', asked);
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});

describe('requests no token limit can ever admit', () => {
  const limited = () =>
    gateway({
      clients: [{ id: 'tok', key: 'key-tok', rateLimits: [{ tokens: 5000, perSeconds: 60 }] }],
    });
  const rest = (gw: TestConduit, body: Record<string, unknown>) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('key-tok') },
      // Written by hand: JSON.stringify would write 1e300 as 1e+300, the same number.
      body: JSON.stringify({
        model: 'up/gpt-4o-mini',
        messages: [{ role: 'user', content: `rest ${++serial}` }],
        ...body,
      }),
    });

  it('refuses a maxTokens past the limit with a 400 naming it, never a 429', async () => {
    const gw = await limited();
    const calls = gated.upstream.calls.length;
    for (let i = 0; i < 2; i++) {
      const refused = await call(gw, 'key-tok', { maxTokens: 2147483647 });
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'maxTokens',
      });
      expect(refused.errors![0].message).toMatch(/maxTokens 2147483647 .* 5000 tokens per 60 s/);
    }
    const response = await rest(gw, { max_tokens: 2147483647 });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error).toMatchObject({
      type: 'invalid_request_error',
      param: 'max_tokens',
    });
    // Just inside the limit, with the prompt, is admitted.
    const prompt = estimatePromptTokens([{ role: 'user', content: `limits ${serial + 1}` }]);
    expect(codeOf(await call(gw, 'key-tok', { maxTokens: 5000 - prompt }))).toBe('OK');
    expect(gated.upstream.calls.length).toBe(calls + 1);
  });

  it('admits a request that gives no maxTokens although the default would not fit', async () => {
    // The default reservation (1,024 tokens) alone is more than the limit: it is lowered to fit
    // (a window holds one such request at a time: the next waits for the window, not forever).
    const gw = await gateway({
      clients: [{ id: 'tok', key: 'key-tok', rateLimits: [{ tokens: 1000, perSeconds: 60 }] }],
    });
    expect(codeOf(await call(gw, 'key-tok'))).toBe('OK');
  });

  it('refuses a prompt longer than the limit with a 400 naming the messages', async () => {
    const gw = await gateway({
      clients: [{ id: 'tok', key: 'key-tok', rateLimits: [{ tokens: 50, perSeconds: 60 }] }],
    });
    const refused = await call(gw, 'key-tok', {
      messages: [{ role: 'USER', content: 'many words '.repeat(40) }],
    });
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'messages',
    });
  });

  it('refuses max_tokens 1e300 with a 400 naming it, with or without limits', async () => {
    const free = await gateway({ clients: [{ id: 'tok', key: 'key-tok' }] });
    for (const gw of [free, await limited()]) {
      const response = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer('key-tok') },
        body: `{"model":"up/gpt-4o-mini","messages":[{"role":"user","content":"big"}],"max_tokens":1e300}`,
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as any).error).toMatchObject({
        type: 'invalid_request_error',
        param: 'max_tokens',
      });
      const tooBig = await rest(gw, { max_completion_tokens: 2147483648 });
      expect(tooBig.status).toBe(400);
      expect(((await tooBig.json()) as any).error.param).toBe('max_tokens');

      // GraphQL's Int holds 32 bits: 1e300 never reaches the gateway, and the error names it.
      const graphql = await gql(
        gw.graphqlUrl,
        COMPLETE,
        { input: input({ maxTokens: 1e300 }) },
        bearer('key-tok'),
      );
      expect(graphql.status).toBe(400);
      expect(graphql.body.errors?.[0]?.message).toMatch(/maxTokens.*32-bit/s);
    }
  });
});
