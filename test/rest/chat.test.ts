/**
 * The official `openai` SDK pointed at Conduit's /v1: plain, streamed and tool answers from
 * echo, OpenAI, and Anthropic and Gemini behind aliases; every answer and chunk also checked
 * against OpenAI's published schemas.
 */
import OpenAI, { APIError } from 'openai';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createAnthropicFake } from '../fakes/anthropic.js';
import { createGeminiFake } from '../fakes/gemini.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { FakeToolCall, ProviderFake } from '../fakes/types.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { assertSchema } from '../helpers/openai-schemas.js';

const appKey = 'conduit-app-key';
const upstreamKey = 'sk-upstream';
let conduit: TestConduit;
let fakes: Record<'openai' | 'anthropic' | 'gemini', ProviderFake>;
let client: OpenAI;

beforeAll(async () => {
  const [openai, anthropic, gemini] = await Promise.all([
    createOpenAIFake({ keys: [upstreamKey] }),
    createAnthropicFake({ keys: [upstreamKey] }),
    createGeminiFake({ keys: [upstreamKey] }),
  ]);
  fakes = { openai, anthropic, gemini };
  for (const fake of [openai, anthropic, gemini]) onDispose(() => fake.close());
  const upstream = (type: string, fake: ProviderFake, models: string[]) => ({
    type,
    baseUrl: fake.baseUrl,
    keys: ['${UPSTREAM_KEY}'],
    models,
  });
  conduit = await startConduit(
    {
      providers: {
        echo: { type: 'echo', models: ['echo'] },
        slow: { type: 'echo', models: ['echo'], delayMs: 30 },
        openai: upstream('openai', openai, ['gpt-4o-mini']),
        anthropic: upstream('anthropic', anthropic, ['claude-3-5-haiku-latest']),
        gemini: upstream('gemini', gemini, ['gemini-2.0-flash']),
      },
      models: {
        fast: { targets: [{ provider: 'echo', model: 'echo' }] },
        claude: { targets: [{ provider: 'anthropic', model: 'claude-3-5-haiku-latest' }] },
        gem: { targets: [{ provider: 'gemini', model: 'gemini-2.0-flash' }] },
        smart: {
          targets: [
            { provider: 'anthropic', model: 'claude-3-5-haiku-latest' },
            { provider: 'gemini', model: 'gemini-2.0-flash' },
          ],
        },
      },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      clients: [{ id: 'app', key: '${APP_KEY}' }],
    },
    { UPSTREAM_KEY: upstreamKey, APP_KEY: appKey },
  );
  client = new OpenAI({ baseURL: `${conduit.url}/v1`, apiKey: appKey, maxRetries: 0 });
});

const weather: FakeToolCall = {
  id: 'call_weather_1',
  name: 'get_weather',
  arguments: '{"city":"Paris"}',
};
const tools: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
  },
];
const ask = (content: string) => [{ role: 'user' as const, content }];

/** Streams with the SDK, checking every chunk against the schema. */
async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) {
    assertSchema('CreateChatCompletionStreamResponse', chunk);
    chunks.push(chunk);
  }
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  const finish = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
  return { chunks, text, finish };
}

describe('POST /v1/chat/completions with the openai SDK', () => {
  it('answers in chat.completion form with the conduit headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'fast', messages: ask('hello from the sdk'), user: 'u-1' })
      .withResponse();
    assertSchema('CreateChatCompletionResponse', data);
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message).toEqual({
      role: 'assistant',
      content: 'hello from the sdk',
      refusal: null,
      annotations: [],
    });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(response.headers.get('x-conduit-provider')).toBe('echo');
    expect(response.headers.get('x-conduit-cache')).toBe('MISS');
    expect(data.id).toBe(`chatcmpl-${response.headers.get('x-request-id')}`);
  });

  it('says HIT for a cached answer, and MISS when the header bypasses the cache', async () => {
    const params = { model: 'fast', messages: ask('cache me once') };
    await client.chat.completions.create(params);
    const hit = await client.chat.completions.create(params).withResponse();
    expect(hit.response.headers.get('x-conduit-cache')).toBe('HIT');
    expect(hit.data.choices[0]!.message.content).toBe('cache me once');
    const bypass = await client.chat.completions
      .create(params, { headers: { 'x-conduit-cache': 'bypass' } })
      .withResponse();
    expect(bypass.response.headers.get('x-conduit-cache')).toBe('MISS');
  });

  it('streams chat.completion.chunk events, the usage chunk, then [DONE]', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'echo/echo',
        messages: ask('one two three'),
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-conduit-provider')).toBe('echo');
    const { chunks, text, finish } = await collect(stream);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect(text).toBe('one two three');
    expect(finish).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBe(3);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('sends no usage chunk unless stream_options.include_usage asks', async () => {
    const stream = await client.chat.completions.create({
      model: 'fast',
      messages: ask('no usage please'),
      stream: true,
    });
    const { chunks } = await collect(stream);
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
  });

  it('relays OpenAI tool calls, plain and streamed', async () => {
    fakes.openai.next({ toolCalls: [weather] }, { toolCalls: [weather] });
    const plain = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: ask('weather?'),
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    assertSchema('CreateChatCompletionResponse', plain);
    expect(plain.choices[0]!.finish_reason).toBe('tool_calls');
    expect(plain.choices[0]!.message.content).toBeNull();
    expect(plain.choices[0]!.message.tool_calls).toEqual([
      {
        id: weather.id,
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);
    const runner = client.chat.completions.stream({
      model: 'openai/gpt-4o-mini',
      messages: ask('weather, streamed?'),
      tools,
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls?.[0]).toMatchObject({
      id: weather.id,
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    });
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('sends the tool round trip upstream: assistant tool_calls, then the tool answer', async () => {
    const answer = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      tools,
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'weather in Paris?' }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: weather.id,
              type: 'function',
              function: { name: 'get_weather', arguments: weather.arguments },
            },
          ],
        },
        { role: 'tool', tool_call_id: weather.id, content: 'sunny' },
      ],
    });
    expect(answer.choices[0]!.message.content).toBe('weather in Paris?');
    const sent = fakes.openai.upstream.calls.at(-1)!.json as { messages: { role: string }[] };
    expect(sent.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
  });

  describe.each([
    ['claude', 'anthropic'],
    ['gem', 'gemini'],
  ] as const)('with %s (%s) behind the alias', (alias, provider) => {
    it('parses the plain answer and the streamed one', async () => {
      const plain = await client.chat.completions
        .create({ model: alias, messages: ask(`plain via ${alias}`) })
        .withResponse();
      assertSchema('CreateChatCompletionResponse', plain.data);
      expect(plain.data.choices[0]!.message.content).toBe(`plain via ${alias}`);
      expect(plain.response.headers.get('x-conduit-provider')).toBe(provider);
      const stream = await client.chat.completions.create({
        model: alias,
        messages: ask(`streamed via ${alias}`),
        stream: true,
        stream_options: { include_usage: true },
      });
      const { text, finish, chunks } = await collect(stream);
      expect(text).toBe(`streamed via ${alias}`);
      expect(finish).toEqual(['stop']);
      expect(chunks.at(-1)!.usage?.total_tokens).toBeGreaterThan(0);
    });

    it('parses tool calls, plain and streamed', async () => {
      fakes[provider].next({ toolCalls: [weather] }, { toolCalls: [weather] });
      const plain = await client.chat.completions.create({
        model: alias,
        messages: ask('tool?'),
        tools,
      });
      assertSchema('CreateChatCompletionResponse', plain);
      const call = plain.choices[0]!.message.tool_calls?.[0];
      expect(call?.type === 'function' && call.function).toEqual({
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      });
      expect(plain.choices[0]!.finish_reason).toBe('tool_calls');
      const runner = client.chat.completions.stream({
        model: alias,
        messages: ask('tool, streamed?'),
        tools,
      });
      for await (const chunk of runner) assertSchema('CreateChatCompletionStreamResponse', chunk);
      const final = await runner.finalChatCompletion();
      const streamed = final.choices[0]!.message.tool_calls?.[0];
      expect(streamed?.type === 'function' && JSON.parse(streamed.function.arguments)).toEqual({
        city: 'Paris',
      });
    });
  });

  it('falls back from Anthropic to Gemini behind one alias, and says who answered', async () => {
    fakes.anthropic.next({ fail: 'server' });
    const { data, response } = await client.chat.completions
      .create({ model: 'smart', messages: ask('fall back please') })
      .withResponse();
    assertSchema('CreateChatCompletionResponse', data);
    expect(response.headers.get('x-conduit-provider')).toBe('gemini');
    expect(data.choices[0]!.message.content).toBe('fall back please');
  });

  it('ends a stream that breaks after its first token with an error event the SDK throws', async () => {
    fakes.openai.next({ fail: 'cut_after_first_token', text: 'partial' });
    const stream = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: ask('cut me'),
      stream: true,
    });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toMatch(/broke after it began/);
    expect(seen.join('')).toBe('partial');
  });

  it('stops the upstream when the client leaves mid-stream', async () => {
    const stream = await client.chat.completions.create({
      model: 'slow/echo',
      messages: ask('a b c d e f g h i j k l m n o p q r s t'),
      stream: true,
    });
    let got = '';
    for await (const chunk of stream) {
      got += chunk.choices[0]?.delta.content ?? '';
      if (got.length > 0) break;
    }
    expect(got).toBe('a');
    await vi.waitFor(() => {
      expect(conduit.logs.some((l) => l.includes('"errorCode":"CANCELLED"'))).toBe(true);
    });
  });
});
