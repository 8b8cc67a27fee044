/**
 * Retries and fallback with the fakes: retryable failures (429, 5xx, 529, timeouts) are retried
 * on the same target, then the next target answers; a failure that is the caller's or the
 * key's is never retried; the upstream's delay is honoured; the request's deadline bounds it
 * all; a stream falls back only before its first token. Every try is in `attempts`.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAnthropicFake } from '../fakes/anthropic.js';
import { createOpenAIFake, openaiErrorBody } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      provider
      content
      attempts {
        provider
        status
        error
      }
    }
  }
`;
const STREAM = /* GraphQL */ `
  subscription ($input: CompletionInput!) {
    completionStream(input: $input) {
      delta
      provider
      done
    }
  }
`;

let one: ProviderFake;
let two: ProviderFake;
let claude: ProviderFake;
beforeAll(async () => {
  [one, two, claude] = await Promise.all([
    createOpenAIFake(),
    createOpenAIFake(),
    createAnthropicFake(),
  ]);
});
afterAll(() => Promise.all([one, two, claude].map((fake) => fake.close())));

/** A gateway of its own (key cooldowns and breakers start clean): `pair` is one → two. */
function gateway(retry: Record<string, unknown> = {}): Promise<TestConduit> {
  // timeoutMs, not firstByteTimeoutMs: undici's header timer ticks in ~0.5 s, a plain timer is exact.
  // A second: short enough for the hang tests, long enough that a fake's 500 on a loaded machine
  // is still a 500 and not a timeout.
  const fast = { timeoutMs: 1000, keys: ['sk-up'] };
  return startConduit({
    providers: {
      one: { type: 'openai', baseUrl: one.baseUrl, ...fast },
      two: { type: 'openai', baseUrl: two.baseUrl, ...fast },
      claude: { type: 'anthropic', baseUrl: claude.baseUrl, ...fast },
    },
    models: {
      pair: {
        targets: [
          { provider: 'one', model: 'gpt-4o-mini' },
          { provider: 'two', model: 'gpt-4o-mini' },
        ],
      },
      sonnet: {
        targets: [
          { provider: 'claude', model: 'claude-sonnet-4-5' },
          { provider: 'two', model: 'gpt-4o-mini' },
        ],
      },
    },
    retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 2000, deadlineMs: 10_000, ...retry },
    cache: { enabled: false },
  });
}

const input = (content: string, model = 'pair') => ({
  input: { model, messages: [{ role: 'USER', content }] },
});
async function complete(gw: TestConduit, content: string, model = 'pair') {
  return (await gql(gw.graphqlUrl, COMPLETE, input(content, model))).body;
}
const tries = (attempts: { provider: string; status: string }[]) =>
  attempts.map((a) => `${a.provider}:${a.status}`);

/** How many calls each fake gets while `run` runs. */
async function counting<T>(run: () => Promise<T>) {
  const before = [one, two, claude].map((fake) => fake.upstream.calls.length);
  const result = await run();
  const [a, b, c] = [one, two, claude].map((fake, i) => fake.upstream.calls.length - before[i]!);
  return { result, calls: { one: a, two: b, claude: c } };
}

describe('retries and fallback', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await gateway();
  });

  it('retries a 500 on the same target', async () => {
    one.next({ fail: 'server' });
    const { result, calls } = await counting(() => complete(gw, 'retry 500'));
    expect(result.data.complete.provider).toBe('one');
    expect(tries(result.data.complete.attempts)).toEqual(['one:server', 'one:ok']);
    expect(calls).toEqual({ one: 2, two: 0, claude: 0 });
  });

  it('falls back to provider 2 when provider 1 keeps answering 500', async () => {
    one.next({ fail: 'server' }, { fail: 'server' });
    const { result, calls } = await counting(() => complete(gw, 'fallback 500'));
    expect(result.data.complete).toMatchObject({ provider: 'two', content: 'fallback 500' });
    expect(tries(result.data.complete.attempts)).toEqual(['one:server', 'one:server', 'two:ok']);
    expect(calls).toEqual({ one: 2, two: 1, claude: 0 });
  });

  it('retries an overloaded 503 and Anthropic’s 529', async () => {
    one.next({ fail: 'overloaded' });
    const openai = await complete(gw, 'busy');
    expect(tries(openai.data.complete.attempts)).toEqual(['one:overloaded', 'one:ok']);
    claude.next({ fail: 'overloaded' }, { fail: 'overloaded' });
    const anthropic = await complete(gw, 'busy', 'sonnet');
    expect(tries(anthropic.data.complete.attempts)).toEqual([
      'claude:overloaded',
      'claude:overloaded',
      'two:ok',
    ]);
  });

  it('falls back after a hang times out', async () => {
    one.next({ fail: 'hang' }, { fail: 'hang' });
    const started = performance.now();
    const { result, calls } = await counting(() => complete(gw, 'hang then fall back'));
    expect(result.data.complete.provider).toBe('two');
    expect(tries(result.data.complete.attempts)).toEqual(['one:timeout', 'one:timeout', 'two:ok']);
    expect(calls).toEqual({ one: 2, two: 1, claude: 0 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(2000); // two timeouts
  });

  it('never retries nor falls back on a 400: the request is at fault', async () => {
    one.next({ fail: 'bad_request' });
    const { result, calls } = await counting(() => complete(gw, 'bad request'));
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      attempts: [{ provider: 'one', status: 'bad_request' }],
    });
    expect(calls).toEqual({ one: 1, two: 0, claude: 0 });
  });

  it('never retries a 404', async () => {
    one.upstream.enqueue({
      kind: 'json',
      status: 404,
      body: openaiErrorBody('The model `gpt-9` does not exist', 'invalid_request_error'),
    });
    const { result, calls } = await counting(() => complete(gw, 'not found'));
    expect(result.errors?.[0]?.extensions?.attempts).toHaveLength(1);
    expect(calls.one).toBe(1);
  });

  it('lists every try in the error when every target fails', async () => {
    one.next({ fail: 'server' }, { fail: 'server' });
    two.next({ fail: 'overloaded' }, { fail: 'server' });
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input('all fail'));
    expect(body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(tries(body.errors![0].extensions.attempts)).toEqual([
      'one:server',
      'one:server',
      'two:overloaded',
      'two:server',
    ]);
  });
});

describe('what is not retried, and delays', () => {
  it.each([
    [401, { fail: 'auth' } as const],
    [403, undefined],
  ])('never retries a %i on the same key: the next target answers', async (status, failure) => {
    const gw = await gateway();
    if (failure) one.next(failure);
    else
      one.upstream.enqueue({
        kind: 'json',
        status,
        body: openaiErrorBody('Project does not have access', 'invalid_request_error'),
      });
    const { result, calls } = await counting(() => complete(gw, `status ${status}`));
    expect(tries(result.data.complete.attempts)).toEqual(['one:auth', 'two:ok']);
    expect(calls).toEqual({ one: 1, two: 1, claude: 0 });
  });

  it('waits the delay a 429 asks for before trying again', async () => {
    const gw = await gateway();
    one.next({ fail: 'rate_limited', retryAfterSeconds: 1 });
    const started = performance.now();
    const { result, calls } = await counting(() => complete(gw, 'retry after'));
    expect(tries(result.data.complete.attempts)).toEqual(['one:rate_limited', 'one:ok']);
    expect(calls.one).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('moves on at once when the asked delay exceeds maxDelayMs', async () => {
    const gw = await gateway();
    one.next({ fail: 'rate_limited', retryAfterSeconds: 30 });
    const started = performance.now();
    const { result } = await counting(() => complete(gw, 'long retry after'));
    expect(tries(result.data.complete.attempts)).toEqual(['one:rate_limited', 'two:ok']);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('stops at the request’s deadline with UPSTREAM_TIMEOUT and the tries so far', async () => {
    const stuck = await createOpenAIFake();
    onDispose(() => stuck.close());
    stuck.next(...Array<{ fail: 'hang' }>(10).fill({ fail: 'hang' }));
    const gw = await startConduit({
      providers: {
        stuck: { type: 'openai', baseUrl: stuck.baseUrl, keys: ['sk-up'], timeoutMs: 200 },
      },
      retry: { attempts: 10, initialDelayMs: 1, maxDelayMs: 10, deadlineMs: 500 },
    });
    const started = performance.now();
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input('deadline', 'stuck/gpt-4o-mini'));
    const elapsed = performance.now() - started;
    expect(body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_TIMEOUT');
    expect(body.errors![0].message).toMatch(/deadline \(500 ms\)/);
    // Two tries timed out on their own (200 ms each); the deadline cut the third.
    expect(tries(body.errors![0].extensions.attempts)).toEqual([
      'stuck:timeout',
      'stuck:timeout',
      'stuck:timeout',
    ]);
    expect(body.errors![0].extensions.attempts[2].error).toMatch(/deadline/);
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(1500);
    expect(stuck.upstream.calls).toHaveLength(3);
  });
});

describe('streams', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await gateway();
  });
  async function stream(content: string) {
    const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    onDispose(() => client.dispose());
    const results: any[] = [];
    try {
      for await (const result of client.iterate({ query: STREAM, variables: input(content) }))
        results.push(result);
    } finally {
      await client.dispose();
    }
    return results;
  }

  it('retries and falls back before the first token', async () => {
    one.next({ fail: 'server' }, { fail: 'hang' });
    const { result, calls } = await counting(() => stream('stream falls back'));
    const chunks = result.map((r) => r.data.completionStream);
    expect(chunks.map((c) => c.delta).join('')).toBe('stream falls back');
    expect(new Set(chunks.map((c) => c.provider))).toEqual(new Set(['two']));
    expect(calls).toEqual({ one: 2, two: 1, claude: 0 });
  });

  it('ends a stream cut after its first token with an error, without retry or fallback', async () => {
    one.next({ fail: 'cut_after_first_token', text: 'Partial' });
    const { result, calls } = await counting(() => stream('cut me'));
    expect(result.slice(0, -1).map((r) => r.data.completionStream.delta)).toEqual(['Partial']);
    expect(result.at(-1).errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(result.at(-1).errors[0].message).toMatch(/broke after it began/);
    expect(calls).toEqual({ one: 1, two: 0, claude: 0 });
  });
});
