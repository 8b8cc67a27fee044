/**
 * Every provider type, end to end: GraphQL in, the provider's fake behind Conduit, the same
 * normalised answer out, streamed or not; scripted failures become the right codes; a client
 * that leaves mid-stream makes the upstream see its request aborted.
 */
import { createClient as createSseClient } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicFake } from '../fakes/anthropic.js';
import { createGeminiFake } from '../fakes/gemini.js';
import { createMistralFake } from '../fakes/mistral.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { collect, wsClient } from '../helpers/clients.js';
import { onDispose } from '../helpers/dispose.js';

const KEY = 'sk-upstream-e2e-0001';

const cases: { type: string; model: string; make: () => Promise<ProviderFake> }[] = [
  { type: 'openai', model: 'gpt-4o-mini', make: () => createOpenAIFake({ keys: [KEY] }) },
  { type: 'openai-compatible', model: 'llama3.2', make: () => createOpenAIFake({ keys: [KEY] }) },
  {
    type: 'anthropic',
    model: 'claude-haiku-4-5',
    make: () => createAnthropicFake({ keys: [KEY] }),
  },
  { type: 'gemini', model: 'gemini-2.5-flash', make: () => createGeminiFake({ keys: [KEY] }) },
  {
    type: 'mistral',
    model: 'mistral-small-latest',
    make: () => createMistralFake({ keys: [KEY] }),
  },
];

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      provider
      model
      content
      finishReason
      cached
      costUsd
      toolCalls {
        id
        name
        arguments
      }
      usage {
        promptTokens
        completionTokens
        totalTokens
        cachedPromptTokens
        estimated
      }
      attempts {
        provider
        status
      }
    }
  }
`;
const STREAM = /* GraphQL */ `
  subscription ($input: CompletionInput!) {
    completionStream(input: $input) {
      delta
      done
      finishReason
      provider
      model
      toolCalls {
        id
        name
        arguments
      }
      usage {
        promptTokens
        completionTokens
        totalTokens
        cachedPromptTokens
        estimated
      }
    }
  }
`;

const weather = {
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe.each(cases)('$type through the gateway', ({ type, model, make }) => {
  let fake: ProviderFake;
  let gw: TestConduit;
  const input = (content: string, extra: Record<string, unknown> = {}) => ({
    input: {
      model: `up/${model}`,
      messages: [{ role: 'USER', content }],
      cache: 'BYPASS',
      ...extra,
    },
  });
  const stream = (variables: Record<string, unknown>): Promise<any[]> =>
    collect(wsClient(gw.wsUrl).iterate({ query: STREAM, variables }));

  beforeAll(async () => {
    fake = await make();
    gw = await startConduit({
      providers: {
        up: { type, baseUrl: fake.baseUrl, keys: [KEY], firstByteTimeoutMs: 300, timeoutMs: 5000 },
      },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 50 },
    });
  });
  afterAll(() => fake.close());

  it('answers complete with the normalised text, finish reason and usage', async () => {
    fake.next({ text: 'Hello from the fake', usage: { prompt: 12, completion: 4, cached: 2 } });
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input('hi'));
    expect(body.errors).toBeUndefined();
    expect(body.data.complete).toMatchObject({
      provider: 'up',
      content: 'Hello from the fake',
      finishReason: 'STOP',
      toolCalls: [],
      usage: {
        promptTokens: 12,
        completionTokens: 4,
        totalTokens: 16,
        cachedPromptTokens: 2,
        estimated: false,
      },
      attempts: [{ provider: 'up', status: 'ok' }],
    });
  });

  it('streams the same answer over completionStream', async () => {
    fake.next({
      text: 'Hello from the fake',
      usage: { prompt: 12, completion: 4, cached: 2 },
      splitBytes: 7,
    });
    const results = await stream(input('hi'));
    const chunks = results.map((r) => r.data.completionStream);
    expect(chunks.map((c) => c.delta).join('')).toBe('Hello from the fake');
    expect(chunks.at(-1)).toMatchObject({
      done: true,
      finishReason: 'STOP',
      toolCalls: [],
      usage: {
        promptTokens: 12,
        completionTokens: 4,
        totalTokens: 16,
        cachedPromptTokens: 2,
        estimated: false,
      },
    });
  });

  it('returns whole tool calls, plain and streamed', async () => {
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
    fake.next({ toolCalls: [call] });
    const plain = await gql(gw.graphqlUrl, COMPLETE, input('weather?', { tools: [weather] }));
    expect(plain.body.data.complete).toMatchObject({ content: null, finishReason: 'TOOL_CALLS' });
    expect(plain.body.data.complete.toolCalls).toEqual([{ ...call, id: expect.any(String) }]);
    expect(JSON.parse(plain.body.data.complete.toolCalls[0].arguments)).toEqual({ city: 'Paris' });

    fake.next({ toolCalls: [call], splitBytes: 5 });
    const chunks = (await stream(input('weather?', { tools: [weather] }))).map(
      (r) => r.data.completionStream,
    );
    expect(chunks.at(-1)).toMatchObject({ done: true, finishReason: 'TOOL_CALLS' });
    expect(chunks.at(-1).toolCalls).toEqual([{ ...call, id: expect.any(String) }]);
  });

  it.each([
    [{ fail: 'server' } as const, 'UPSTREAM_ERROR'],
    [{ fail: 'rate_limited', retryAfterSeconds: 0 } as const, 'UPSTREAM_ERROR'],
    [{ fail: 'overloaded' } as const, 'UPSTREAM_ERROR'],
    [{ fail: 'hang' } as const, 'UPSTREAM_TIMEOUT'],
    [{ fail: 'bad_request' } as const, 'BAD_USER_INPUT'],
  ])('turns %o into %s', async (failure, code) => {
    fake.next(failure);
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input('fail please'));
    expect(body.errors?.[0]?.extensions?.code).toBe(code);
    expect(body.errors?.[0]?.extensions?.attempts?.[0]?.status).toBeTypeOf('string');
    expect(JSON.stringify(body)).not.toContain(KEY);
  });

  it.each(['cut_after_first_token', 'stream_error', 'truncated'] as const)(
    'ends a stream that breaks after its first token (%s) with an error, not silence',
    async (fail) => {
      fake.next({ fail, text: 'partial' });
      const results = await stream(input('go'));
      const last = results.at(-1);
      expect(
        results
          .slice(0, -1)
          .map((r) => r.data.completionStream.delta)
          .join(''),
      ).toContain('partial');
      expect(last.errors?.[0]?.extensions?.code).toMatch(/^UPSTREAM_(ERROR|TIMEOUT)$/);
    },
  );

  it('aborts the upstream request when the client leaves a stream whose upstream went silent', async () => {
    const before = fake.upstream.calls.length;
    fake.next({ fail: 'stall_after_first_token', text: 'first' });
    const iterator = wsClient(gw.wsUrl).iterate({ query: STREAM, variables: input('long') });
    const first = await iterator.next();
    expect(first.value.data.completionStream.delta).toBeTruthy();
    await iterator.return?.();
    await fake.upstream.calls[before]!.aborted;
  });

  it('aborts the upstream request when the client leaves an SSE subscription', async () => {
    const before = fake.upstream.calls.length;
    fake.next({ fail: 'stall_after_first_token', text: 'first' });
    const client = createSseClient({ url: gw.graphqlUrl, retryAttempts: 0 });
    onDispose(() => client.dispose());
    const iterator = client.iterate({ query: STREAM, variables: input('long over sse') });
    const first = await iterator.next();
    expect((first.value as any).data.completionStream.delta).toBeTruthy();
    await iterator.return?.();
    await fake.upstream.calls[before]!.aborted;
  });

  it('shows the provider in the providers query, its keys counted, never shown', async () => {
    const { body } = await gql(
      gw.graphqlUrl,
      '{ providers { name type keys availableKeys healthy circuit } }',
    );
    expect(body.data.providers).toEqual([
      { name: 'up', type, keys: 1, availableKeys: 1, healthy: true, circuit: 'closed' },
    ]);
    expect(JSON.stringify(body)).not.toContain(KEY);
  });

  it('takes a key the provider refuses (401) out of the pool, and says so without showing it', async () => {
    fake.next({ fail: 'auth' });
    const { body } = await gql(gw.graphqlUrl, COMPLETE, input('fail please'));
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'UPSTREAM_ERROR',
      attempts: [{ status: 'auth' }],
    });
    const after = await gql(gw.graphqlUrl, '{ providers { availableKeys healthy } }');
    expect(after.body.data.providers).toEqual([{ availableKeys: 0, healthy: false }]);
    expect(gw.logs.join('\n')).toMatch(/key_disabled/);
    expect(gw.logs.join('\n')).not.toContain(KEY);
  });
});
