import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { geminiAdapter } from '../../src/providers/gemini.js';
import { createHttpProvider, Transport } from '../../src/providers/http.js';
import type { Provider, ProviderCall } from '../../src/providers/types.js';
import { createGeminiFake, geminiSse, geminiStreamChunks } from '../fakes/gemini.js';
import type { ProviderFake } from '../fakes/types.js';

const key = 'AIza-test-key';
let fake: ProviderFake;
let transport: Transport;
let provider: Provider;

const makeProvider = (firstByteTimeoutMs = 5000) =>
  createHttpProvider({
    name: 'gemini',
    type: 'gemini',
    models: [],
    baseUrl: fake.baseUrl,
    adapter: geminiAdapter,
    transport,
    timeoutMs: 10_000,
    firstByteTimeoutMs,
  });

beforeAll(async () => {
  fake = await createGeminiFake({ keys: [key] });
  transport = new Transport();
  provider = makeProvider();
});
afterAll(async () => {
  await transport.close();
  await fake.close();
});
afterEach(() => {
  fake.upstream.calls.length = 0;
});

const request: ChatRequest = {
  model: 'gemini/gemini-2.5-flash',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hello there gemini' },
  ],
  cache: 'DEFAULT',
};
const call = (overrides: Partial<ProviderCall> = {}): ProviderCall => ({
  request,
  model: 'gemini-2.5-flash',
  key,
  signal: new AbortController().signal,
  ...overrides,
});

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const all: StreamEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!UpstreamError.isInstance(error)) throw new Error(`expected an UpstreamError: ${error}`);
  return error;
}

const textOf = (events: StreamEvent[]) =>
  events.map((e) => (e.type === 'delta' ? e.text : '')).join('');

describe('gemini through the fake', () => {
  it('answers a chat with the default echo and sends the key and the REST body', async () => {
    const response = await provider.chat(call());
    expect(response).toMatchObject({
      model: 'gemini-2.5-flash',
      content: 'hello there gemini',
      finishReason: 'STOP',
      usage: { promptTokens: 11, completionTokens: 3, totalTokens: 14, estimated: false },
    });
    const [recorded] = fake.upstream.calls;
    expect(recorded!.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(recorded!.headers['x-goog-api-key']).toBe(key);
    expect(recorded!.json).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [{ role: 'user', parts: [{ text: 'hello there gemini' }] }],
    });
  });

  it.each([
    ['one event per write', {}],
    ['events split across writes', { splitBytes: 7 }],
    ['all events in one write', { oneWrite: true }],
  ])('streams with %s', async (_, options) => {
    fake.next({
      text: 'one two three four',
      usage: { prompt: 5, completion: 4, cached: 2 },
      ...options,
    });
    const events = await collect(provider.chatStream(call()));
    expect(fake.upstream.calls[0]!.url).toBe(
      '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    expect(textOf(events)).toBe('one two three four');
    expect(events.filter((e) => e.type === 'finish')).toEqual([
      {
        type: 'finish',
        model: 'gemini-2.5-flash',
        finishReason: 'STOP',
        toolCalls: [],
        usage: {
          promptTokens: 5,
          completionTokens: 4,
          totalTokens: 9,
          cachedPromptTokens: 2,
          estimated: false,
        },
      },
    ]);
  });

  it('streams CRLF events split mid-line', async () => {
    const chunks = geminiStreamChunks({
      model: 'gemini-2.5-flash',
      responseId: 'r1',
      text: 'crlf works fine',
      usage: { prompt: 3, completion: 3 },
    });
    const text = geminiSse(chunks, { crlf: true }).join('');
    fake.upstream.enqueue({
      kind: 'stream',
      writes: [text.slice(0, 9), text.slice(9, 250), text.slice(250)],
    });
    const events = await collect(provider.chatStream(call()));
    expect(textOf(events)).toBe('crlf works fine');
    expect(events.at(-1)).toMatchObject({ type: 'finish', usage: { completionTokens: 3 } });
  });

  it('returns tool calls, plain and streamed, with the same ids', async () => {
    const toolCalls = [{ id: 'ignored', name: 'weather', arguments: '{"city":"Oslo"}' }];
    fake.next({ toolCalls, finish: 'tool_calls' }, { toolCalls, finish: 'tool_calls' });
    const plain = await provider.chat(call());
    expect(plain).toMatchObject({ content: null, finishReason: 'TOOL_CALLS' });
    expect(plain.toolCalls).toEqual([
      { id: expect.stringMatching(/^call_/), name: 'weather', arguments: '{"city":"Oslo"}' },
    ]);
    const events = await collect(provider.chatStream(call()));
    expect(events).toMatchObject([
      { type: 'finish', finishReason: 'TOOL_CALLS', toolCalls: [{ name: 'weather' }] },
    ]);
  });

  it('estimates usage when the stream carries none', async () => {
    fake.next({ text: 'no usage here', omitUsage: true });
    const finish = (await collect(provider.chatStream(call()))).at(-1);
    expect(finish).toMatchObject({ type: 'finish', usage: { estimated: true } });
  });

  it('answers a wrong key with the auth error and no key with 403', async () => {
    const wrong = await failure(provider.chat(call({ key: 'nope' })));
    expect(wrong).toMatchObject({ kind: 'auth', status: 400 });
    expect(wrong.message).not.toContain('nope');
    expect(await failure(provider.chat(call({ key: undefined })))).toMatchObject({
      kind: 'auth',
      status: 403,
    });
  });

  it.each([
    [
      { fail: 'rate_limited', retryAfterSeconds: 3 },
      { kind: 'rate_limited', status: 429, retryAfterMs: 3000 },
    ],
    [{ fail: 'quota' }, { kind: 'quota', status: 429, retryable: false }],
    [{ fail: 'server' }, { kind: 'server', status: 500 }],
    [{ fail: 'overloaded' }, { kind: 'overloaded', status: 503 }],
    [{ fail: 'auth' }, { kind: 'auth', status: 400 }],
    [{ fail: 'bad_request' }, { kind: 'bad_request', status: 400, retryable: false }],
  ] as const)('maps %o for chat and chatStream', async (answer, expected) => {
    fake.next(answer, answer);
    expect(await failure(provider.chat(call()))).toMatchObject(expected);
    expect(await failure(collect(provider.chatStream(call())))).toMatchObject(expected);
  });

  it('times out on a hang', async () => {
    fake.next({ fail: 'hang' });
    expect(await failure(makeProvider(100).chat(call()))).toMatchObject({ kind: 'timeout' });
  });

  it('fails a stream cut after the first token', async () => {
    fake.next({ fail: 'cut_after_first_token', text: 'Hel' });
    const events: StreamEvent[] = [];
    const error = await failure(
      (async () => {
        for await (const event of provider.chatStream(call())) events.push(event);
      })(),
    );
    expect(['connection', 'stream']).toContain(error.kind);
    expect(events).toEqual([{ type: 'delta', text: 'Hel' }]);
  });

  it('fails a stream with an in-band error after the first token', async () => {
    fake.next({ fail: 'stream_error' });
    expect(await failure(collect(provider.chatStream(call())))).toMatchObject({
      kind: 'server',
      status: 500,
    });
  });

  it('fails a stream that ends without a finishReason', async () => {
    fake.next({ fail: 'truncated' });
    expect(await failure(collect(provider.chatStream(call())))).toMatchObject({ kind: 'stream' });
  });

  it('aborts the upstream when the consumer stops reading', async () => {
    // The first event, then the upstream keeps the stream open: only our abort can end it.
    const chunks = geminiStreamChunks({ model: 'm', responseId: 'r', text: 'first second' });
    fake.upstream.enqueue({ kind: 'stall', writes: geminiSse(chunks.slice(0, 1)) });
    for await (const event of provider.chatStream(call())) {
      expect(event.type).toBe('delta');
      break;
    }
    await fake.upstream.calls[0]!.aborted;
  });

  it('embeds one input and several', async () => {
    const one = await provider.embed!({ ...call(), input: ['hi'], dimensions: 4 });
    expect(one.embeddings).toHaveLength(1);
    expect(one.embeddings[0]).toHaveLength(4);
    const two = await provider.embed!({ ...call(), input: ['a', 'b'] });
    expect(two.embeddings).toHaveLength(2);
    expect(two.embeddings[0]).not.toEqual(two.embeddings[1]);
    expect(fake.upstream.calls.map((c) => c.url)).toEqual([
      '/v1beta/models/gemini-2.5-flash:embedContent',
      '/v1beta/models/gemini-2.5-flash:batchEmbedContents',
    ]);
  });
});
