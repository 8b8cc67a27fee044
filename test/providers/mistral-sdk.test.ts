/** The official `@mistralai/mistralai` SDK parses every answer of the fake. */
import { Mistral } from '@mistralai/mistralai';
import { HTTPValidationError, MistralError } from '@mistralai/mistralai/models/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMistralFake, type MistralFakeOptions } from '../fakes/mistral.js';
import { fakeEmbedding } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { disposeAll, onDispose } from '../helpers/dispose.js';

const apiKey = 'mistral-sdk-key';
const params = {
  model: 'mistral-small-latest',
  messages: [{ role: 'user' as const, content: 'Salut from the SDK' }],
};
const toolCalls = [
  { id: 'gSIMJiOkT', name: 'get_weather', arguments: '{"city": "Paris"}' },
  { id: 'q8LZk3mTs', name: 'get_time', arguments: '{"tz": "CET"}' },
];

let fake: ProviderFake;
let client: Mistral;

async function sdkFor(options: MistralFakeOptions) {
  const started = await createMistralFake(options);
  onDispose(() => started.close());
  const sdk = new Mistral({
    apiKey,
    serverURL: started.sdkBaseUrl,
    retryConfig: { strategy: 'none' },
  });
  return { fake: started, client: sdk };
}

beforeAll(async () => {
  ({ fake, client } = await sdkFor({ keys: [apiKey] }));
});
afterAll(disposeAll);

async function streamWith(sdk: Mistral) {
  const stream = await sdk.chat.stream(params);
  let text = '';
  let finish: string | null | undefined;
  let usage: unknown;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const event of stream) {
    if (event.data.usage) usage = event.data.usage;
    for (const choice of event.data.choices) {
      if (typeof choice.delta.content === 'string') text += choice.delta.content;
      finish = choice.finishReason ?? finish;
      for (const call of choice.delta.toolCalls ?? []) {
        const args = call.function.arguments;
        const known = calls.find((c) => c.id === call.id);
        if (known) known.arguments += typeof args === 'string' ? args : JSON.stringify(args);
        else if (call.id && call.id !== 'null') {
          calls.push({ id: call.id, name: call.function.name, arguments: String(args) });
        } else calls.at(-1)!.arguments += String(args);
      }
    }
  }
  return { text, finish, usage, calls };
}

describe('the mistral SDK against the fake', () => {
  it('parses a plain answer', async () => {
    const response = await client.chat.complete(params);
    expect(response.choices[0]!.message?.content).toBe('Salut from the SDK');
    expect(response.choices[0]!.finishReason).toBe('stop');
    expect(response.usage).toMatchObject({ promptTokens: 11, completionTokens: 4 });
  });

  it('parses a streamed answer with the usage on the last chunk', async () => {
    fake.next({ text: 'in three words', splitBytes: 6 });
    const result = await streamWith(client);
    expect(result).toMatchObject({ text: 'in three words', finish: 'stop' });
    expect(result.usage).toMatchObject({ promptTokens: 11, completionTokens: 3 });
  });

  it('parses CRLF and keep-alive comments', async () => {
    const odd = await sdkFor({ crlf: true, keepAlive: true });
    odd.fake.next({ text: 'odd yet parsed' });
    expect(await streamWith(odd.client)).toMatchObject({ text: 'odd yet parsed', finish: 'stop' });
  });

  it('parses tool calls, plain and streamed (whole and in fragments)', async () => {
    fake.next({ toolCalls }, { toolCalls });
    const plain = await client.chat.complete(params);
    expect(
      plain.choices[0]!.message?.toolCalls?.map((c) => [
        c.id,
        c.function.name,
        c.function.arguments,
      ]),
    ).toEqual(toolCalls.map((c) => [c.id, c.name, c.arguments]));
    expect(await streamWith(client)).toMatchObject({ finish: 'tool_calls', calls: toolCalls });
    const incremental = await sdkFor({ incrementalToolCalls: true });
    incremental.fake.next({ toolCalls: toolCalls.slice(0, 1) });
    expect(await streamWith(incremental.client)).toMatchObject({ calls: toolCalls.slice(0, 1) });
  });

  it.each([
    [{ fail: 'rate_limited', retryAfterSeconds: 0 } as const, 429],
    [{ fail: 'quota' } as const, 429],
    [{ fail: 'server' } as const, 500],
    [{ fail: 'overloaded' } as const, 503],
    [{ fail: 'auth' } as const, 401],
    [{ fail: 'bad_request' } as const, 400],
  ])('raises %o as a MistralError with its status', async (failure, status) => {
    fake.next(failure);
    const error = await client.chat.complete(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MistralError);
    expect(error).toMatchObject({ statusCode: status });
  });

  it('raises a MistralError for a wrong key, streamed too', async () => {
    const wrong = new Mistral({ apiKey: 'nope', serverURL: fake.sdkBaseUrl });
    await expect(wrong.chat.stream(params)).rejects.toMatchObject({ statusCode: 401 });
  });

  it('raises an HTTPValidationError for a 422', async () => {
    fake.upstream.enqueue({
      kind: 'json',
      status: 422,
      body: { detail: [{ loc: ['body', 'model'], msg: 'Field required', type: 'missing' }] },
    });
    await expect(client.chat.complete(params)).rejects.toBeInstanceOf(HTTPValidationError);
  });

  it('fails a stream that carries an error event', async () => {
    // The SDK has no type for an in-band error: the chunk fails its validation, so the stream
    // still ends in an error rather than a short answer.
    fake.next({ fail: 'stream_error' });
    const error = await streamWith(client).catch((e: unknown) => e);
    expect((error as Error).constructor.name).toBe('ZodError');
  });

  it('creates embeddings', async () => {
    const response = await client.embeddings.create({
      model: 'mistral-embed',
      inputs: ['one', 'two words'],
      outputDimension: 4,
    });
    expect(response.data.map((d) => d.embedding)).toEqual([
      fakeEmbedding('one', 4),
      fakeEmbedding('two words', 4),
    ]);
    expect(response.usage).toMatchObject({ promptTokens: 3, totalTokens: 3 });
  });
});
