/**
 * Stream relaying (relay.ts): on its own over a provider's events, then through the gateway
 * against fake OpenAI upstreams. A fallback happens only before the first token; a failure
 * after output ends the stream with a GatewayError (never in silence); a consumer that leaves
 * aborts the upstream call, and the stream is recorded either way.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError, UpstreamError } from '../../src/gateway/errors.js';
import { leavable, relay } from '../../src/gateway/relay.js';
import type {
  ChatRequest,
  ChatResponse,
  CompletionChunk,
  StreamEvent,
} from '../../src/gateway/types.js';
import { createOpenAIFake } from '../fakes/openai.js';
import { onDispose } from '../helpers/dispose.js';
import { anonymous, startGateway } from './harness.js';

const usage = {
  promptTokens: 3,
  completionTokens: 2,
  totalTokens: 5,
  cachedPromptTokens: 0,
  estimated: false,
};
const target = { provider: 'up', model: 'm', weight: 1 };

/** A provider's stream: these events, then `end` (thrown, or nothing). */
async function* events(list: StreamEvent[], end?: Error): AsyncGenerator<StreamEvent> {
  for (const event of list) yield event;
  if (end) throw end;
}

async function relayOf(list: StreamEvent[], end?: Error) {
  const iterator = events(list, end);
  const finished: ChatResponse[] = [];
  const broken: { text: string; error: unknown }[] = [];
  let released = 0;
  const chunks = relay({
    id: 'r1',
    target,
    iterator,
    first: await iterator.next(),
    attempts: [],
    release: () => released++,
    finish: (response) => (finished.push(response), 0.5),
    broken: (text, error) => broken.push({ text, error }),
  });
  const seen: CompletionChunk[] = [];
  let failure: unknown;
  try {
    for await (const chunk of chunks) seen.push(chunk);
  } catch (error) {
    failure = error;
  }
  return { seen, failure, finished, broken, released: () => released };
}

const delta = (text: string): StreamEvent => ({ type: 'delta', text });
const finish: StreamEvent = {
  type: 'finish',
  model: 'm-2024',
  finishReason: 'STOP',
  toolCalls: [],
  usage,
};

describe('relay, over a provider’s events', () => {
  it('relays every delta, then one last chunk with the whole answer accounted', async () => {
    const { seen, failure, finished, broken, released } = await relayOf([
      delta('Hel'),
      delta('lo'),
      finish,
    ]);
    expect(failure).toBeUndefined();
    expect(seen.map((c) => [c.delta, c.done])).toEqual([
      ['Hel', false],
      ['lo', false],
      ['', true],
    ]);
    expect(seen.at(-1)).toMatchObject({
      model: 'm-2024',
      usage,
      costUsd: 0.5,
      finishReason: 'STOP',
    });
    expect(finished).toEqual([
      { model: 'm-2024', content: 'Hello', toolCalls: [], finishReason: 'STOP', usage },
    ]);
    expect(broken).toEqual([]);
    expect(released()).toBe(1);
  });

  it('ends a stream that breaks after output with a GatewayError, and records what was sent', async () => {
    const cut = new UpstreamError({ kind: 'connection', message: 'socket hang up' });
    const { seen, failure, finished, broken } = await relayOf([delta('Hel')], cut);
    expect(seen.map((c) => c.delta)).toEqual(['Hel']);
    expect(GatewayError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect((failure as Error).message).toMatch(/broke after it began: socket hang up/);
    expect(finished).toEqual([]);
    expect(broken).toEqual([{ text: 'Hel', error: failure }]);

    const slow = new UpstreamError({ kind: 'timeout', message: 'no byte for 30 s' });
    expect((await relayOf([delta('a')], slow)).failure).toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
  });

  it('never ends in silence: a stream without its finish event is an error', async () => {
    const { failure, broken } = await relayOf([delta('Hel')]);
    expect(failure).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect((failure as Error).message).toMatch(/ended the stream without finishing/);
    expect(broken).toHaveLength(1);
  });

  it('leavable: leaving before the first chunk still runs the relay’s cleanup, after aborting', async () => {
    const order: string[] = [];
    const iterator = events([delta('a'), finish]);
    const chunks = relay({
      id: 'r2',
      target,
      iterator,
      first: await iterator.next(),
      attempts: [],
      release: () => order.push('release'),
      finish: () => 0,
      broken: (text, error) => order.push(`broken:${text}:${(error as Error).name}`),
    });
    await leavable(chunks, () => order.push('abort')).return!(undefined);
    expect(order).toEqual(['abort', 'release', 'broken:a:AbortError']);
  });
});

describe('streams through the gateway', () => {
  async function twoUpstreams() {
    const a = await createOpenAIFake();
    const b = await createOpenAIFake();
    onDispose(() => a.close());
    onDispose(() => b.close());
    const harness = await startGateway({
      providers: {
        a: { type: 'openai', baseUrl: a.baseUrl, keys: ['sk-a-1'] },
        b: { type: 'openai', baseUrl: b.baseUrl, keys: ['sk-b-1'] },
      },
      models: {
        smart: {
          strategy: 'fallback',
          targets: [
            { provider: 'a', model: 'gpt-4o' },
            { provider: 'b', model: 'gpt-4o-mini' },
          ],
        },
      },
      retry: { attempts: 1 },
    });
    return { a, b, ...harness };
  }
  const request = (content: string) =>
    ({ model: 'smart', messages: [{ role: 'user', content }], cache: 'BYPASS' }) as ChatRequest;

  it('falls back when the first target fails before its first token', async () => {
    const { a, b, gateway } = await twoUpstreams();
    a.next({ fail: 'server' });
    const chunks: CompletionChunk[] = [];
    for await (const chunk of await gateway.stream(request('one two'), anonymous))
      chunks.push(chunk);
    expect(chunks.map((c) => c.delta).join('')).toBe('one two');
    expect(chunks.every((c) => c.provider === 'b')).toBe(true);
    expect(b.upstream.calls).toHaveLength(1);
  });

  it('does not fall back after the first token: the stream ends with a GatewayError', async () => {
    const { a, b, gateway, records, owed } = await twoUpstreams();
    a.next({ fail: 'cut_after_first_token', text: 'Hello' });
    const seen: string[] = [];
    let failure: unknown;
    try {
      for await (const chunk of await gateway.stream(request('x'), anonymous))
        seen.push(chunk.delta);
    } catch (error) {
      failure = error;
    }
    expect(seen).toEqual(['Hello']);
    expect(GatewayError.isInstance(failure)).toBe(true);
    expect(b.upstream.calls).toHaveLength(0);
    // Recorded by the time the stream ends; its event reaches `records` a few microtasks later.
    expect(owed.count).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ provider: 'a', status: 'error', stream: true });
  });

  it('aborts the upstream call when the consumer leaves mid-stream, and records it', async () => {
    const { a, gateway, records, owed } = await twoUpstreams();
    a.next({ fail: 'stall_after_first_token', text: 'Hello' });
    const stream = (await gateway.stream(request('x'), anonymous))[Symbol.asyncIterator]();
    expect((await stream.next()).value).toMatchObject({ delta: 'Hello' });
    await stream.return?.();
    await a.upstream.calls[0]!.aborted;
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ provider: 'a', errorCode: 'CANCELLED', stream: true });
    expect(owed.count).toBe(0);
  });
});
