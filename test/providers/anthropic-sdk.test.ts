/** The official SDK parses every answer of the fake: proof that the fake speaks the real wire. */
import Anthropic, { APIError, OverloadedError } from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { onDispose } from '../helpers/dispose.js';
import { createAnthropicFake } from '../fakes/anthropic.js';
import type { FakeFailure, ProviderFake } from '../fakes/types.js';

const apiKey = 'sk-ant-sdk-1';
let fake: ProviderFake;
let client: Anthropic;

beforeAll(async () => {
  fake = await createAnthropicFake({ keys: [apiKey] });
  onDispose(() => fake.close());
  client = new Anthropic({ apiKey, baseURL: fake.sdkBaseUrl, maxRetries: 0 });
});

const params = { model: 'claude-haiku-4-5', max_tokens: 256 };
const user = (content: string) => [{ role: 'user' as const, content }];
const weather = { id: 'toolu_01A', name: 'get_weather', arguments: '{"city":"Paris"}' };
const tools = [
  {
    name: 'get_weather',
    input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
  },
];

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the Anthropic SDK against the fake', () => {
  it('sends Bearer auth and its own API version, which the fake accepts', async () => {
    const message = await client.messages.create({ ...params, messages: user('Hi there') });
    expect(message.content).toEqual([{ type: 'text', text: 'Hi there' }]);
    const headers = fake.upstream.calls.at(-1)!.headers;
    expect(headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(headers['anthropic-version']).toBe('2026-10-21');
  });

  it('parses a plain message with usage', async () => {
    fake.next({ text: 'Plain answer here', usage: { prompt: 30, completion: 3, cached: 10 } });
    const message = await client.messages.create({ ...params, messages: user('x') });
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'Plain answer here' }],
      usage: { input_tokens: 20, cache_read_input_tokens: 10, output_tokens: 3 },
    });
  });

  it('parses a stream from messages.create({ stream: true }), split across writes', async () => {
    fake.next({ text: 'Streamed in pieces', splitBytes: 7 });
    const stream = await client.messages.create({ ...params, messages: user('x'), stream: true });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        text += event.delta.text;
      }
    }
    expect(text).toBe('Streamed in pieces');
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types).not.toContain('ping');
  });

  it('builds the final message with messages.stream(), in one write', async () => {
    fake.next({ text: 'All in one write', oneWrite: true, usage: { prompt: 11, completion: 4 } });
    const message = await client.messages.stream({ ...params, messages: user('x') }).finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'All in one write' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBe(4);
  });

  it('parses tool use, plain', async () => {
    fake.next({ toolCalls: [weather] });
    const message = await client.messages.create({ ...params, tools, messages: user('weather?') });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
    ]);
  });

  it('assembles streamed tool use with messages.stream()', async () => {
    fake.next({ text: 'Let me look.', toolCalls: [weather], splitBytes: 13 });
    const message = await client.messages
      .stream({ ...params, tools, messages: user('weather?') })
      .finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toMatchObject([
      { type: 'text', text: 'Let me look.' },
      { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
    ]);
  });

  it('accepts a tool result turn', async () => {
    const message = await client.messages.create({
      ...params,
      tools,
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: {} }],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: '21C' }],
        },
      ],
    });
    expect(message.content).toEqual([{ type: 'text', text: '21C' }]);
  });

  it.each<[FakeFailure, abstract new (...args: never[]) => APIError, number]>([
    [{ fail: 'rate_limited', retryAfterSeconds: 1 }, Anthropic.RateLimitError, 429],
    [{ fail: 'quota' }, Anthropic.RateLimitError, 429],
    [{ fail: 'server' }, Anthropic.InternalServerError, 500],
    [{ fail: 'overloaded' }, OverloadedError, 529],
    [{ fail: 'auth' }, Anthropic.AuthenticationError, 401],
    [{ fail: 'bad_request' }, Anthropic.BadRequestError, 400],
  ])('raises the SDK error class for %o', async (failure, errorClass, status) => {
    fake.next(failure);
    const error = await rejection(client.messages.create({ ...params, messages: user('x') }));
    expect(error).toBeInstanceOf(errorClass);
    expect((error as APIError).status).toBe(status);
    expect((error as APIError).requestID).toBe('req_011CSHoEeqs5C35K2UUqR7Fy');
  });

  it('raises AuthenticationError for a wrong key', async () => {
    const stranger = new Anthropic({ apiKey: 'sk-wrong', baseURL: fake.sdkBaseUrl, maxRetries: 0 });
    const error = await rejection(stranger.messages.create({ ...params, messages: user('x') }));
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as APIError).status).toBe(401);
  });

  it('raises an APIError for the in-band error event', async () => {
    fake.next({ fail: 'stream_error', text: 'Hi' });
    const stream = await client.messages.create({ ...params, messages: user('x'), stream: true });
    const error = await rejection(
      (async () => {
        for await (const _event of stream) {
          // drain
        }
      })(),
    );
    expect(error).toBeInstanceOf(APIError);
    expect(String((error as Error).message)).toContain('Overloaded');
  });
});
