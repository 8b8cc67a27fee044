import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { createHttpProvider, Transport } from '../../src/providers/http.js';
import { mistralAdapter } from '../../src/providers/mistral.js';
import { openaiAdapter } from '../../src/providers/openai.js';
import type { HttpAdapter, Provider, ProviderCall } from '../../src/providers/types.js';
import { createMistralFake, mistralChunks, type MistralFakeOptions } from '../fakes/mistral.js';
import { fakeEmbedding, resolveReply, sseEvent } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { disposeAll, onDispose } from '../helpers/dispose.js';

const key = 'mistral-test-key';
const request: ChatRequest = {
  model: 'mistral/mistral-small-latest',
  messages: [{ role: 'user', content: 'Bonjour from the test' }],
  maxTokens: 40,
  cache: 'DEFAULT',
};

let transport: Transport;
let fake: ProviderFake;
let provider: Provider;

async function start(
  options: MistralFakeOptions = { keys: [key] },
  firstByteTimeoutMs = 5_000,
  adapter: HttpAdapter = mistralAdapter,
) {
  const started = await createMistralFake(options);
  onDispose(() => started.close());
  const created = createHttpProvider({
    name: 'mistral',
    type: 'mistral',
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
  model: 'mistral-small-latest',
  key,
  signal: new AbortController().signal,
  ...over,
});

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

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

describe('mistral transport through the fake', () => {
  it('answers a chat, sending max_tokens and the key', async () => {
    const response = await provider.chat(call());
    expect(response).toMatchObject({
      content: 'Bonjour from the test',
      usage: { promptTokens: 11, completionTokens: 4, estimated: false },
    });
    const sent = fake.upstream.calls.at(-1)!;
    expect(sent.url).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${key}`);
    expect(sent.json).toMatchObject({ max_tokens: 40 });
  });

  it('streams with the usage on the finishing chunk, never sending stream_options', async () => {
    fake.next({ text: 'Un deux trois', usage: { prompt: 9, completion: 3, cached: 4 } });
    const events = await collect(provider.chatStream(call()));
    expect(textOf(events)).toBe('Un deux trois');
    expect(events.at(-1)).toMatchObject({
      usage: { promptTokens: 9, completionTokens: 3, cachedPromptTokens: 4, estimated: false },
    });
    expect(fake.upstream.calls.at(-1)!.json).not.toHaveProperty('stream_options');
  });

  it('is refused with a 422 when stream_options is sent, as Mistral does', async () => {
    const wrong = await start({}, 5_000, openaiAdapter);
    const error = await collect(wrong.provider.chatStream(call())).catch((e) => e);
    expect(error).toMatchObject({ kind: 'bad_request', status: 422 });
  });

  it.each([
    ['split writes', { splitBytes: 9 }],
    ['one write', { oneWrite: true }],
  ])('parses %s', async (_, shape) => {
    fake.next({ text: 'cut into small pieces', ...shape });
    expect(textOf(await collect(provider.chatStream(call())))).toBe('cut into small pieces');
  });

  it('parses CRLF and keep-alive comments', async () => {
    const odd = await start({ crlf: true, keepAlive: true });
    expect(textOf(await collect(odd.provider.chatStream(call())))).toBe('Bonjour from the test');
  });

  const toolCalls = [
    { id: 'gSIMJiOkT', name: 'get_weather', arguments: '{"city": "Paris"}' },
    { id: 'q8LZk3mTs', name: 'get_time', arguments: '{"tz": "CET"}' },
  ];

  it('returns tool calls, plain and streamed whole', async () => {
    fake.next({ toolCalls }, { toolCalls });
    expect(await provider.chat(call())).toMatchObject({ content: null, toolCalls });
    const events = await collect(provider.chatStream(call()));
    expect(events).toEqual([expect.objectContaining({ finishReason: 'TOOL_CALLS', toolCalls })]);
  });

  it('returns tool calls streamed in fragments', async () => {
    const incremental = await start({ incrementalToolCalls: true });
    incremental.fake.next({ toolCalls, splitBytes: 13 });
    expect((await collect(incremental.provider.chatStream(call()))).at(-1)).toMatchObject({
      toolCalls,
    });
  });

  it.each([
    [{ fail: 'rate_limited', retryAfterSeconds: 1 } as const, 'rate_limited', 429, 1000],
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

  it('refuses a wrong key with 401', async () => {
    await expect(provider.chat(call({ key: 'nope' }))).rejects.toMatchObject({
      kind: 'auth',
      message: 'Mistral 401: Unauthorized',
    });
  });

  it('times out on a hang', async () => {
    const slow = await start({}, 150);
    slow.fake.next({ fail: 'hang' });
    await expect(collect(slow.provider.chatStream(call()))).rejects.toMatchObject({
      kind: 'timeout',
    });
  });

  it.each([
    ['cut_after_first_token', ['connection', 'stream']],
    ['stream_error', ['server']],
    ['truncated', ['stream']],
  ] as const)('fails a stream on %s after the first token', async (fail, kinds) => {
    fake.next({ fail, text: 'Premier' });
    const { deltas, error } = await failure(provider.chatStream(call()));
    expect(deltas).toEqual(['Premier']);
    expect(kinds).toContain(error.kind);
  });

  it('aborts the upstream request when the consumer leaves early', async () => {
    const first = mistralChunks(resolveReply({ text: 'x y z' }, { model: 'm' }));
    fake.upstream.enqueue({ kind: 'stall', writes: first.slice(0, 2).map(sseEvent) });
    const before = fake.upstream.calls.length;
    for await (const event of provider.chatStream(call())) {
      expect(event).toEqual({ type: 'delta', text: 'x' });
      break;
    }
    await fake.upstream.calls[before]!.aborted;
  });

  it('embeds with output_dimension', async () => {
    const result = await provider.embed!({
      input: ['un', 'deux trois'],
      model: 'mistral-embed',
      key,
      signal: new AbortController().signal,
      dimensions: 5,
    });
    expect(result.embeddings).toEqual([fakeEmbedding('un', 5), fakeEmbedding('deux trois', 5)]);
    expect(result.usage).toMatchObject({ promptTokens: 3, completionTokens: 0, estimated: false });
    expect(fake.upstream.calls.at(-1)!.json).toMatchObject({ output_dimension: 5 });
  });
});
