/** The official `openai` SDK parses every answer of the fake: it speaks OpenAI's true wire. */
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIFake, fakeEmbedding } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { disposeAll, onDispose } from '../helpers/dispose.js';

const apiKey = 'sk-sdk-test-key';
const toolCalls = [
  { id: 'call_w', name: 'get_weather', arguments: '{"city":"Paris"}' },
  { id: 'call_t', name: 'get_time', arguments: '{"tz":"CET"}' },
];
const params = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'Hi from the SDK' }],
};

let fake: ProviderFake;
let client: OpenAI;

async function sdkFor(options: Parameters<typeof createOpenAIFake>[0]) {
  const started = await createOpenAIFake(options);
  onDispose(() => started.close());
  return {
    fake: started,
    client: new OpenAI({ baseURL: started.sdkBaseUrl, apiKey, maxRetries: 0 }),
  };
}

beforeAll(async () => {
  ({ fake, client } = await sdkFor({ keys: [apiKey] }));
});
afterAll(disposeAll);

/** Streams with the SDK; returns the text, the tool calls by index, the last usage. */
async function streamWith(
  sdk: OpenAI,
  extra: Partial<OpenAI.ChatCompletionCreateParamsStreaming> = {},
) {
  const stream = await sdk.chat.completions.create({
    ...params,
    stream: true,
    stream_options: { include_usage: true },
    ...extra,
  });
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
      for (const fragment of choice.delta.tool_calls ?? []) {
        const call = (calls[fragment.index] ??= { id: '', name: '', arguments: '' });
        call.id ||= fragment.id ?? '';
        call.name ||= fragment.function?.name ?? '';
        call.arguments += fragment.function?.arguments ?? '';
      }
    }
  }
  return { text, finish, usage, calls };
}

describe('the openai SDK against the fake', () => {
  it('parses a plain answer', async () => {
    const completion = await client.chat.completions.create(params);
    expect(completion.choices[0]!.message.content).toBe('Hi from the SDK');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 4 });
  });

  it('parses a streamed answer with the usage-only last chunk', async () => {
    fake.next({ text: 'streamed words here', usage: { prompt: 5, completion: 3, cached: 2 } });
    const result = await streamWith(client);
    expect(result).toMatchObject({ text: 'streamed words here', finish: 'stop' });
    expect(result.usage).toMatchObject({
      prompt_tokens: 5,
      prompt_tokens_details: { cached_tokens: 2 },
    });
  });

  it('parses Azure first chunks, keep-alive comments, CRLF and split writes', async () => {
    const odd = await sdkFor({ azure: true, keepAlive: true, crlf: true });
    odd.fake.next({ text: 'still parsed fine', splitBytes: 5 });
    expect(await streamWith(odd.client)).toMatchObject({
      text: 'still parsed fine',
      finish: 'stop',
    });
  });

  it('parses tool calls, plain and streamed', async () => {
    fake.next({ toolCalls }, { toolCalls, oneWrite: true });
    const plain = await client.chat.completions.create(params);
    const message = plain.choices[0]!.message;
    expect(message.content).toBeNull();
    expect(
      message.tool_calls?.map(
        (c) => c.type === 'function' && [c.id, c.function.name, c.function.arguments],
      ),
    ).toEqual(toolCalls.map((c) => [c.id, c.name, c.arguments]));
    const streamed = await streamWith(client);
    expect(streamed).toMatchObject({ finish: 'tool_calls', calls: toolCalls });
  });

  it.each([
    [{ fail: 'rate_limited', retryAfterSeconds: 0 } as const, OpenAI.RateLimitError, 429],
    [{ fail: 'quota' } as const, OpenAI.RateLimitError, 429],
    [{ fail: 'server' } as const, OpenAI.InternalServerError, 500],
    [{ fail: 'overloaded' } as const, OpenAI.InternalServerError, 503],
    [{ fail: 'auth' } as const, OpenAI.AuthenticationError, 401],
    [{ fail: 'bad_request' } as const, OpenAI.BadRequestError, 400],
  ])('raises %o as its own error class', async (failure, errorClass, status) => {
    fake.next(failure);
    const error = await client.chat.completions.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ status });
    expect((error as APIError).error).toHaveProperty('message');
  });

  it('raises an AuthenticationError for a wrong key', async () => {
    const wrong = new OpenAI({ baseURL: fake.sdkBaseUrl, apiKey: 'sk-nope-1234', maxRetries: 0 });
    await expect(wrong.chat.completions.create(params)).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
  });

  it('raises an APIError for an error inside the stream', async () => {
    fake.next({ fail: 'stream_error' });
    const error = await streamWith(client).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('The server had an error');
  });

  it('creates embeddings, base64 by default and floats when asked', async () => {
    const input = ['one', 'two words'];
    const base64 = await client.embeddings.create({ model: 'text-embedding-3-small', input });
    expect(base64.data.map((d) => d.embedding)).toEqual(input.map((t) => fakeEmbedding(t)));
    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input,
      dimensions: 3,
      encoding_format: 'float',
    });
    expect(floats.data[1]!.embedding).toEqual(fakeEmbedding('two words', 3));
    expect(floats.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });
});
