import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { createHttpProvider, Transport } from '../../src/providers/http.js';
import { openaiAdapter, openaiCompatibleAdapter } from '../../src/providers/openai.js';
import type { HttpAdapter, Provider, ProviderCall } from '../../src/providers/types.js';
import {
  createOpenAIFake,
  fakeEmbedding,
  openaiChunks,
  resolveReply,
  sseEvent,
  type OpenAIFakeOptions,
} from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { disposeAll, onDispose } from '../helpers/dispose.js';

const key = 'sk-test-good-key-1234';
const request: ChatRequest = {
  model: 'openai/gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello there, fake world' },
  ],
  maxTokens: 50,
  cache: 'DEFAULT',
};

let transport: Transport;
let fake: ProviderFake;
let provider: Provider;

async function start(
  options: OpenAIFakeOptions = { keys: [key] },
  adapter: HttpAdapter = openaiAdapter,
  firstByteTimeoutMs = 5_000,
): Promise<{ fake: ProviderFake; provider: Provider }> {
  const started = await createOpenAIFake(options);
  onDispose(() => started.close());
  const created = createHttpProvider({
    name: 'openai',
    type: 'openai',
    models: [],
    baseUrl: started.baseUrl,
    adapter,
    transport,
    timeoutMs: 10_000,
    firstByteTimeoutMs,
  });
  return { fake: started, provider: created };
}

const call = (over: Partial<ProviderCall> = {}): ProviderCall => ({
  request,
  model: 'gpt-4o-mini',
  key,
  signal: new AbortController().signal,
  ...over,
});

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Runs a stream to its failure; returns the deltas seen before it and the error. */
async function failure(stream: AsyncIterable<StreamEvent>) {
  const deltas: string[] = [];
  try {
    for await (const event of stream) if (event.type === 'delta') deltas.push(event.text);
  } catch (error) {
    if (!UpstreamError.isInstance(error)) throw error;
    return { deltas, error };
  }
  throw new Error('the stream did not fail');
}

const textOf = (events: StreamEvent[]) =>
  events.map((e) => (e.type === 'delta' ? e.text : '')).join('');

beforeAll(async () => {
  transport = new Transport();
  ({ fake, provider } = await start());
});
afterAll(async () => {
  await disposeAll();
  await transport.close();
});

describe('openai transport through the fake', () => {
  it('answers a chat with the last user message, and sends our body and key', async () => {
    const response = await provider.chat(call());
    expect(response).toMatchObject({
      content: 'Hello there, fake world',
      finishReason: 'STOP',
      model: 'gpt-4o-mini',
      usage: { promptTokens: 11, completionTokens: 4, totalTokens: 15, estimated: false },
    });
    const sent = fake.upstream.calls.at(-1)!;
    expect(sent.url).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${key}`);
    expect(sent.json).toMatchObject({ model: 'gpt-4o-mini', max_completion_tokens: 50 });
  });

  it('streams the text and takes the usage from the usage-only chunk', async () => {
    fake.next({ text: 'One two three', usage: { prompt: 20, completion: 3, cached: 8 } });
    const events = await collect(provider.chatStream(call()));
    expect(textOf(events)).toBe('One two three');
    expect(events.at(-1)).toMatchObject({
      type: 'finish',
      usage: { promptTokens: 20, completionTokens: 3, cachedPromptTokens: 8, estimated: false },
    });
    expect(fake.upstream.calls.at(-1)!.json).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it.each([
    ['events split across writes', { splitBytes: 7 }],
    ['every event in one write', { oneWrite: true }],
  ])('parses %s', async (_, shape) => {
    fake.next({ text: 'split me into pieces please', ...shape });
    const events = await collect(provider.chatStream(call()));
    expect(textOf(events)).toBe('split me into pieces please');
    expect(events.filter((e) => e.type === 'finish')).toHaveLength(1);
  });

  it('parses CRLF, keep-alive comments and Azure first chunks', async () => {
    const odd = await start({ azure: true, keepAlive: true, crlf: true });
    odd.fake.next({ text: 'odd but fine', model: 'gpt-4o-mini-2024-07-18' });
    const events = await collect(odd.provider.chatStream(call()));
    expect(textOf(events)).toBe('odd but fine');
    expect(events.at(-1)).toMatchObject({ model: 'gpt-4o-mini-2024-07-18' });
  });

  it('estimates the usage when the stream leaves it out', async () => {
    fake.next({ text: 'no usage here', omitUsage: true });
    const events = await collect(provider.chatStream(call()));
    // 13 letters and spaces: ceil(13 / 4).
    expect(events.at(-1)).toMatchObject({ usage: { estimated: true, completionTokens: 4 } });
  });

  const toolCalls = [
    { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris","unit":"C"}' },
    { id: 'call_b', name: 'get_time', arguments: '{"tz":"CET"}' },
  ];

  it('returns tool calls, plain and streamed', async () => {
    fake.next({ toolCalls }, { toolCalls, splitBytes: 11 });
    const plain = await provider.chat(call());
    expect(plain).toMatchObject({ content: null, finishReason: 'TOOL_CALLS', toolCalls });
    const events = await collect(provider.chatStream(call()));
    expect(events).toEqual([expect.objectContaining({ finishReason: 'TOOL_CALLS', toolCalls })]);
  });

  it.each([
    [{ fail: 'rate_limited', retryAfterSeconds: 2 } as const, 'rate_limited', 429, 2000],
    [{ fail: 'rate_limited' } as const, 'rate_limited', 429, 120],
    [{ fail: 'quota' } as const, 'quota', 429, undefined],
    [{ fail: 'server' } as const, 'server', 500, undefined],
    [{ fail: 'overloaded' } as const, 'overloaded', 503, undefined],
    [{ fail: 'auth' } as const, 'auth', 401, undefined],
    [{ fail: 'bad_request' } as const, 'bad_request', 400, undefined],
  ])('turns %o into kind %s', async (answer, kind, status, retryAfterMs) => {
    fake.next(answer, answer);
    await expect(provider.chat(call())).rejects.toMatchObject({ kind, status, retryAfterMs });
    await expect(collect(provider.chatStream(call()))).rejects.toMatchObject({ kind, status });
  });

  it('refuses a wrong key with a 401 whose message hides the key', async () => {
    const error = await provider.chat(call({ key: 'sk-wrong-secret-9876' })).catch((e) => e);
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expect(error.message).not.toContain('secret');
    expect(error.body).toContain('invalid_api_key');
  });

  it('times out on a hang', async () => {
    const slow = await start({}, openaiAdapter, 150);
    slow.fake.next({ fail: 'hang' });
    await expect(slow.provider.chat(call())).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('fails a stream cut after the first token, after that token', async () => {
    fake.next({ fail: 'cut_after_first_token', text: 'Once' });
    const { deltas, error } = await failure(provider.chatStream(call()));
    expect(deltas).toEqual(['Once']);
    expect(['connection', 'stream']).toContain(error.kind);
  });

  it('fails a stream that carries an error event', async () => {
    fake.next({ fail: 'stream_error', text: 'Twice' });
    const { deltas, error } = await failure(provider.chatStream(call()));
    expect(deltas).toEqual(['Twice']);
    expect(error).toMatchObject({ kind: 'server', retryable: true });
  });

  it('fails a stream that ends without [DONE]', async () => {
    fake.next({ fail: 'truncated' });
    const { deltas, error } = await failure(provider.chatStream(call()));
    expect(deltas).toEqual(['Hello']);
    expect(error.kind).toBe('stream');
  });

  it('fails a JSON answer that is cut or truncated', async () => {
    fake.next({ fail: 'cut_after_first_token' }, { fail: 'truncated' });
    await expect(provider.chat(call())).rejects.toMatchObject({ kind: 'connection' });
    await expect(provider.chat(call())).rejects.toMatchObject({ kind: 'server' });
  });

  it('aborts the upstream request when the consumer leaves early', async () => {
    const first = openaiChunks(resolveReply({ text: 'a b c' }, { model: 'm' }), {});
    fake.upstream.enqueue({ kind: 'stall', writes: first.slice(0, 2).map(sseEvent) });
    const before = fake.upstream.calls.length;
    for await (const event of provider.chatStream(call())) {
      expect(event).toEqual({ type: 'delta', text: 'a' });
      break;
    }
    await fake.upstream.calls[before]!.aborted;
  });

  it('embeds with deterministic vectors and usage', async () => {
    const result = await provider.embed!({
      input: ['alpha beta', 'gamma'],
      model: 'text-embedding-3-small',
      key,
      signal: new AbortController().signal,
      dimensions: 4,
    });
    expect(result.embeddings).toEqual([fakeEmbedding('alpha beta', 4), fakeEmbedding('gamma', 4)]);
    expect(result.usage).toMatchObject({ promptTokens: 3, totalTokens: 3, estimated: false });
    expect(fake.upstream.calls.at(-1)!.json).toMatchObject({ encoding_format: 'float' });
  });
});

describe('openai-compatible transport through the fake', () => {
  it('sends max_tokens and no Authorization without a key', async () => {
    const open = await start({}, openaiCompatibleAdapter);
    const response = await open.provider.chat(call({ key: undefined, model: 'llama3' }));
    expect(response.content).toBe('Hello there, fake world');
    const sent = open.fake.upstream.calls[0]!;
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.json).toMatchObject({ model: 'llama3', max_tokens: 50 });
    expect(sent.json).not.toHaveProperty('max_completion_tokens');
  });
});
