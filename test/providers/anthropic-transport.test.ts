import { beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { anthropicAdapter } from '../../src/providers/anthropic.js';
import { createHttpProvider, Transport } from '../../src/providers/http.js';
import type { Provider, ProviderCall } from '../../src/providers/types.js';
import { onDispose } from '../helpers/dispose.js';
import { anthropicFrames, anthropicStreamEvents, createAnthropicFake } from '../fakes/anthropic.js';
import type { FakeFailure, FakeReply, ProviderFake } from '../fakes/types.js';

const key = 'sk-ant-test-1';
let fake: ProviderFake;
let transport: Transport;

beforeAll(async () => {
  fake = await createAnthropicFake({ keys: [key] });
  transport = new Transport();
  onDispose(() => fake.close());
  onDispose(() => transport.close());
});

const provider = (options: { firstByteTimeoutMs?: number; baseUrl?: string } = {}): Provider =>
  createHttpProvider({
    name: 'anthropic',
    type: 'anthropic',
    models: [],
    baseUrl: options.baseUrl ?? fake.baseUrl,
    adapter: anthropicAdapter,
    transport,
    timeoutMs: 10_000,
    firstByteTimeoutMs: options.firstByteTimeoutMs ?? 5_000,
  });

const call = (content: string, extra: Partial<ChatRequest> = {}): ProviderCall => ({
  request: {
    model: 'anthropic/claude-haiku-4-5',
    messages: [{ role: 'user', content }],
    cache: 'DEFAULT',
    ...extra,
  },
  model: 'claude-haiku-4-5',
  key,
  signal: new AbortController().signal,
});

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const all: StreamEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

const text = (events: StreamEvent[]) =>
  events.map((e) => (e.type === 'delta' ? e.text : '')).join('');

async function failure<T>(promise: Promise<T>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!UpstreamError.isInstance(error))
    throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
}

const lastCall = () => fake.upstream.calls.at(-1)!;

describe('anthropic adapter through the fake', () => {
  it('chats: the default reply echoes the last user message, with the headers and body we send', async () => {
    const response = await provider().chat(call('Hello there friend'));
    expect(response).toEqual({
      model: 'claude-haiku-4-5',
      content: 'Hello there friend',
      toolCalls: [],
      finishReason: 'STOP',
      usage: {
        promptTokens: 11,
        completionTokens: 3,
        totalTokens: 14,
        cachedPromptTokens: 0,
        estimated: false,
      },
    });
    const sent = lastCall();
    expect(sent.url).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(key);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.json).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Hello there friend' }],
    });
  });

  it('streams text, with cached usage, from one write per event', async () => {
    fake.next({
      text: 'One two three four',
      usage: { prompt: 100, completion: 4, cached: 60 },
      model: 'claude-haiku-4-5-20251001',
    });
    const events = await collect(provider().chatStream(call('x')));
    expect(text(events)).toBe('One two three four');
    expect(events.filter((e) => e.type === 'delta').length).toBe(4);
    expect(events.at(-1)).toEqual({
      type: 'finish',
      model: 'claude-haiku-4-5-20251001',
      finishReason: 'STOP',
      toolCalls: [],
      usage: {
        promptTokens: 100,
        completionTokens: 4,
        totalTokens: 104,
        cachedPromptTokens: 60,
        estimated: false,
      },
    });
    expect((lastCall().json as { stream?: boolean }).stream).toBe(true);
  });

  it.each<[string, FakeReply]>([
    ['split in 5-byte writes', { text: 'split across writes', splitBytes: 5 }],
    ['in one write', { text: 'all in one write', oneWrite: true }],
  ])('streams %s', async (_name, reply) => {
    fake.next(reply);
    const events = await collect(provider().chatStream(call('x')));
    expect(text(events)).toBe(reply.text);
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'STOP' });
  });

  it('streams CRLF lines and keep-alive comments', async () => {
    const ugly = await createAnthropicFake({ crlf: true, keepAlive: true });
    onDispose(() => ugly.close());
    ugly.next({ text: 'carriage returns everywhere', splitBytes: 9 });
    const events = await collect(provider({ baseUrl: ugly.baseUrl }).chatStream(call('x')));
    expect(text(events)).toBe('carriage returns everywhere');
    expect(events.at(-1)).toMatchObject({ type: 'finish', usage: { completionTokens: 3 } });
  });

  it('streams a raw recorded-style stream queued on the upstream', async () => {
    const frames = anthropicFrames(anthropicStreamEvents({ text: 'raw bytes' }, 'claude-raw'));
    fake.upstream.enqueue({ kind: 'stream', writes: [frames.join('').replace(/\n/g, '\r\n')] });
    const events = await collect(provider().chatStream(call('x')));
    expect(text(events)).toBe('raw bytes');
    expect(events.at(-1)).toMatchObject({ model: 'claude-raw' });
  });

  const weather = {
    id: 'toolu_01A',
    name: 'get_weather',
    arguments: '{"city":"Paris","unit":"c"}',
  };
  const tools = [{ name: 'get_weather', parameters: { type: 'object' } }];

  it('returns tool calls, plain', async () => {
    fake.next({ toolCalls: [weather] });
    const response = await provider().chat(call('weather?', { tools }));
    expect(response.content).toBeNull();
    expect(response.finishReason).toBe('TOOL_CALLS');
    expect(response.toolCalls).toHaveLength(1);
    expect(response.toolCalls[0]).toMatchObject({ id: weather.id, name: weather.name });
    expect(JSON.parse(response.toolCalls[0]!.arguments)).toEqual({ city: 'Paris', unit: 'c' });
  });

  it('assembles streamed tool calls after text', async () => {
    fake.next({
      text: 'Checking.',
      toolCalls: [weather, { ...weather, id: 'toolu_01B', arguments: '{"city":"Rome"}' }],
      splitBytes: 11,
    });
    const events = await collect(provider().chatStream(call('weather?', { tools })));
    expect(text(events)).toBe('Checking.');
    expect(events.at(-1)).toMatchObject({
      type: 'finish',
      finishReason: 'TOOL_CALLS',
      toolCalls: [weather, { id: 'toolu_01B', name: 'get_weather', arguments: '{"city":"Rome"}' }],
    });
  });

  it('sends a tool round trip the fake accepts', async () => {
    const response = await provider().chat({
      ...call('x'),
      request: {
        model: 'anthropic/claude-haiku-4-5',
        cache: 'DEFAULT',
        tools,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'weather?' },
          { role: 'assistant', content: null, toolCalls: [weather] },
          { role: 'tool', toolCallId: weather.id, content: '21C' },
        ],
      },
    });
    expect(response.content).toBe('21C');
    expect(lastCall().json).toMatchObject({ system: 'Be brief.' });
  });

  it('gets the real 401 for a wrong key', async () => {
    const error = await failure(provider().chat({ ...call('x'), key: 'sk-ant-wrong' }));
    expect(error).toMatchObject({ kind: 'auth', status: 401, retryable: false });
    expect(error.message).toContain('authentication_error');
    expect(error.message).not.toContain('sk-ant-wrong');
  });

  it.each<[FakeFailure, object]>([
    [
      { fail: 'rate_limited', retryAfterSeconds: 2 },
      { kind: 'rate_limited', status: 429, retryAfterMs: 2000 },
    ],
    [{ fail: 'quota' }, { kind: 'quota', status: 429, retryable: false }],
    [{ fail: 'server' }, { kind: 'server', status: 500 }],
    [{ fail: 'overloaded' }, { kind: 'overloaded', status: 529, retryable: true }],
    [{ fail: 'auth' }, { kind: 'auth', status: 401 }],
    [{ fail: 'bad_request' }, { kind: 'bad_request', status: 400 }],
  ])('maps the failure %o, streamed or not', async (answer, expected) => {
    fake.next(answer, answer);
    expect(await failure(provider().chat(call('x')))).toMatchObject(expected);
    expect(await failure(collect(provider().chatStream(call('x'))))).toMatchObject(expected);
  });

  it('times out on a hang', async () => {
    fake.next({ fail: 'hang' }, { fail: 'hang' });
    expect((await failure(provider({ firstByteTimeoutMs: 100 }).chat(call('x')))).kind).toBe(
      'timeout',
    );
    const stream = provider({ firstByteTimeoutMs: 100 }).chatStream(call('x'));
    expect((await failure(collect(stream))).kind).toBe('timeout');
  });

  it('fails a stream cut after the first token', async () => {
    fake.next({ fail: 'cut_after_first_token', text: 'Hel' });
    const seen: StreamEvent[] = [];
    const error = await failure(
      (async () => {
        for await (const event of provider().chatStream(call('x'))) seen.push(event);
      })(),
    );
    expect(seen).toEqual([{ type: 'delta', text: 'Hel' }]);
    expect(['connection', 'stream']).toContain(error.kind);
  });

  it('fails a plain call cut mid-body', async () => {
    fake.next({ fail: 'cut_after_first_token' });
    expect(['connection', 'stream', 'server']).toContain(
      (await failure(provider().chat(call('x')))).kind,
    );
  });

  it('throws the in-band error event after the first token', async () => {
    fake.next({ fail: 'stream_error', text: 'Hi' });
    const error = await failure(collect(provider().chatStream(call('x'))));
    expect(error).toMatchObject({ kind: 'overloaded', retryable: true });
  });

  it('throws kind stream for a body that ends before message_stop', async () => {
    fake.next({ fail: 'truncated' });
    expect((await failure(collect(provider().chatStream(call('x'))))).kind).toBe('stream');
  });

  it('aborts the upstream request when the consumer leaves early', async () => {
    // Headers and the first events, then silence: the fake is still answering when we leave.
    const frames = anthropicFrames(anthropicStreamEvents({ text: 'many words here' }, 'claude'));
    fake.upstream.enqueue({ kind: 'stall', writes: frames.slice(0, 4) });
    const before = fake.upstream.calls.length;
    for await (const event of provider().chatStream(call('x'))) {
      expect(event.type).toBe('delta');
      break;
    }
    await fake.upstream.calls[before]!.aborted;
  });
});
