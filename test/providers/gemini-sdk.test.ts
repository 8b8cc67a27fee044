/**
 * The official SDK (@google/genai) against the fake: proof that the fake speaks Gemini's wire
 * format, streamed and not, tool calls and errors included.
 */
import {
  ApiError,
  FunctionCallingConfigMode,
  GoogleGenAI,
  type GenerateContentResponse,
} from '@google/genai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGeminiFake, geminiSse, geminiStreamChunks } from '../fakes/gemini.js';
import type { ProviderFake } from '../fakes/types.js';

const key = 'AIza-sdk-key';
const model = 'gemini-2.5-flash';
let fake: ProviderFake;
let ai: GoogleGenAI;

beforeAll(async () => {
  fake = await createGeminiFake({ keys: [key] });
  // The SDK retries only when httpOptions.retryOptions is set: none here.
  ai = new GoogleGenAI({ apiKey: key, vertexai: false, httpOptions: { baseUrl: fake.sdkBaseUrl } });
});
afterAll(() => fake.close());
afterEach(() => {
  fake.upstream.calls.length = 0;
});

async function collect(stream: AsyncGenerator<GenerateContentResponse>) {
  const chunks: GenerateContentResponse[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  // `.text` only on chunks without function calls: the SDK warns on those.
  const text = chunks
    .filter((c) => !c.functionCalls?.length)
    .map((c) => c.text ?? '')
    .join('');
  return { chunks, text, last: chunks.at(-1) };
}

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError: ${error}`);
  return error;
}

const weather = {
  functionDeclarations: [
    {
      name: 'weather',
      parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
    },
  ],
};

describe('@google/genai against the gemini fake', () => {
  it('parses a plain answer, usage included', async () => {
    fake.next({ text: 'Hello from the fake', usage: { prompt: 7, completion: 4, cached: 3 } });
    const response = await ai.models.generateContent({
      model,
      contents: 'say hello',
      config: { systemInstruction: 'Be brief.', temperature: 0.1, maxOutputTokens: 20 },
    });
    expect(response.text).toBe('Hello from the fake');
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    expect(response.modelVersion).toBe(model);
    expect(response.usageMetadata).toMatchObject({
      promptTokenCount: 7,
      candidatesTokenCount: 4,
      cachedContentTokenCount: 3,
    });
    const [call] = fake.upstream.calls;
    expect(call!.url).toBe(`/v1beta/models/${model}:generateContent`);
    expect(call!.headers['x-goog-api-key']).toBe(key);
    // The SDK's flat config becomes the same REST shape our adapter sends.
    expect(call!.json).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'say hello' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { temperature: 0.1, maxOutputTokens: 20 },
    });
  });

  it('echoes the last user message by default', async () => {
    const response = await ai.models.generateContent({ model, contents: 'echo me please' });
    expect(response.text).toBe('echo me please');
    expect(response.usageMetadata).toMatchObject({ promptTokenCount: 11, candidatesTokenCount: 3 });
  });

  it.each([
    ['one event per write', {}],
    ['events split across writes', { splitBytes: 5 }],
    ['one write', { oneWrite: true }],
  ])('parses a stream with %s', async (_, options) => {
    fake.next({ text: 'streaming is fun', usage: { prompt: 2, completion: 3 }, ...options });
    const { text, last } = await collect(
      await ai.models.generateContentStream({ model, contents: 'go' }),
    );
    expect(fake.upstream.calls[0]!.url).toBe(
      `/v1beta/models/${model}:streamGenerateContent?alt=sse`,
    );
    expect(text).toBe('streaming is fun');
    expect(last?.candidates?.[0]?.finishReason).toBe('STOP');
    expect(last?.usageMetadata?.candidatesTokenCount).toBe(3);
  });

  it('parses a CRLF stream', async () => {
    const chunks = geminiStreamChunks({ model, responseId: 'r', text: 'carriage returns' });
    fake.upstream.enqueue({ kind: 'stream', writes: geminiSse(chunks, { crlf: true }) });
    const { text } = await collect(await ai.models.generateContentStream({ model, contents: 'x' }));
    expect(text).toBe('carriage returns');
  });

  it('parses function calls, plain and streamed', async () => {
    const toolCalls = [{ id: 'x', name: 'weather', arguments: '{"city":"Oslo"}' }];
    fake.next({ toolCalls }, { toolCalls });
    const request = {
      model,
      contents: 'weather in Oslo?',
      config: {
        tools: [weather],
        toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } },
      },
    };
    const plain = await ai.models.generateContent(request);
    expect(plain.functionCalls).toEqual([{ name: 'weather', args: { city: 'Oslo' } }]);
    expect(fake.upstream.calls[0]!.json).toMatchObject({
      tools: [weather],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
    });
    const { chunks } = await collect(await ai.models.generateContentStream(request));
    expect(chunks.flatMap((c) => c.functionCalls ?? [])).toEqual([
      { name: 'weather', args: { city: 'Oslo' } },
    ]);
  });

  it('embeds one input and several', async () => {
    const one = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'hi' });
    expect(one.embeddings?.[0]?.values?.length).toBe(8);
    const two = await ai.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['a', 'b'],
      config: { outputDimensionality: 4 },
    });
    expect(two.embeddings?.map((e) => e.values?.length)).toEqual([4, 4]);
  });

  it.each([
    [{ fail: 'rate_limited', retryAfterSeconds: 2 } as const, 429, 'RetryInfo'],
    [{ fail: 'server' } as const, 500, 'INTERNAL'],
    [{ fail: 'overloaded' } as const, 503, 'UNAVAILABLE'],
    [{ fail: 'bad_request' } as const, 400, 'INVALID_ARGUMENT'],
  ])('throws ApiError for %o', async (failure, status, text) => {
    fake.next(failure);
    const error = await apiError(ai.models.generateContent({ model, contents: 'x' }));
    expect(error.status).toBe(status);
    expect(error.message).toContain(text);
  });

  it('throws ApiError 400 API_KEY_INVALID for a wrong key', async () => {
    const stranger = new GoogleGenAI({
      apiKey: 'wrong',
      vertexai: false,
      httpOptions: { baseUrl: fake.sdkBaseUrl },
    });
    const error = await apiError(stranger.models.generateContent({ model, contents: 'x' }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('API_KEY_INVALID');
  });

  it('throws ApiError for an error inside the stream', async () => {
    fake.next({ fail: 'stream_error', text: 'Hi' });
    const seen: string[] = [];
    const error = await apiError(
      (async () => {
        const stream = await ai.models.generateContentStream({ model, contents: 'x' });
        for await (const chunk of stream) seen.push(chunk.text ?? '');
      })(),
    );
    expect(error.status).toBe(500);
    expect(seen).toEqual(['Hi']);
  });
});
