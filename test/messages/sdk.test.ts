/**
 * Anthropic's official SDK pointed at Conduit's `/v1/messages`, for each provider type behind an
 * alias (each provider's fake behind Conduit): `messages.create` and `messages.stream` (text, a
 * tool-use round trip), `countTokens`, images as each provider takes them, and a stream cut
 * upstream after its first token, which ends with an `error` event the SDK raises.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicFake } from '../fakes/anthropic.js';
import { createGeminiFake } from '../fakes/gemini.js';
import {
  anthropicImages,
  geminiImages,
  openAIImages,
  type ReceivedImage,
} from '../fakes/images.js';
import { createMistralFake } from '../fakes/mistral.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const UPSTREAM_KEY = 'sk-upstream-messages-0001';
const CLIENT_KEY = 'ck-messages-client-0001';

/** A 1×1 PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const IMAGE_URL = 'https://images.example/cat.png';

interface Case {
  type: string;
  model: string;
  make?: () => Promise<ProviderFake>;
  /** The images the fake received in its last call. */
  received?: (body: unknown) => ReceivedImage[];
}

const cases: Case[] = [
  {
    type: 'openai',
    model: 'gpt-4o-mini',
    make: () => createOpenAIFake({ keys: [UPSTREAM_KEY] }),
    received: openAIImages,
  },
  {
    type: 'openai-compatible',
    model: 'llama3.2-vision',
    make: () => createOpenAIFake({ keys: [UPSTREAM_KEY] }),
    received: openAIImages,
  },
  {
    type: 'anthropic',
    model: 'claude-haiku-4-5',
    make: () => createAnthropicFake({ keys: [UPSTREAM_KEY] }),
    received: (body) => anthropicImages((body as { messages: unknown }).messages),
  },
  {
    type: 'gemini',
    model: 'gemini-2.5-flash',
    make: () => createGeminiFake({ keys: [UPSTREAM_KEY] }),
    received: geminiImages,
  },
  {
    type: 'mistral',
    model: 'pixtral-12b',
    make: () => createMistralFake({ keys: [UPSTREAM_KEY] }),
    received: openAIImages,
  },
  { type: 'echo', model: 'echo' },
];

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe.each(cases)('Anthropic SDK → Conduit → $type', ({ type, model, make, received }) => {
  let fake: ProviderFake | undefined;
  let gw: TestConduit;
  let client: Anthropic;

  beforeAll(async () => {
    fake = await make?.();
    gw = await startConduit({
      providers: {
        up: {
          type,
          ...(fake && { baseUrl: fake.baseUrl, keys: [UPSTREAM_KEY] }),
          firstByteTimeoutMs: 2000,
          timeoutMs: 5000,
        },
      },
      models: { smart: { targets: [{ provider: 'up', model }] } },
      clients: [{ id: 'app', key: CLIENT_KEY }],
      cache: { enabled: false },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 5 },
    });
    client = new Anthropic({ apiKey: CLIENT_KEY, baseURL: gw.url, maxRetries: 0 });
  });
  afterAll(() => fake?.close());

  it('answers messages.create with a text block, stop reason and usage', async () => {
    fake?.next({ text: 'Hello from the fake', usage: { prompt: 12, completion: 4, cached: 2 } });
    const { data: message, response } = await client.messages
      .create({
        model: 'smart',
        max_tokens: 100,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'Hello from the fake' }],
      })
      .withResponse();
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hello from the fake' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    expect(message.id).toMatch(/^msg_/);
    if (fake) {
      expect(message.usage).toMatchObject({
        input_tokens: 10,
        cache_read_input_tokens: 2,
        output_tokens: 4,
      });
    } else expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-conduit-provider')).toBe('up');
  });

  it('streams the same answer with messages.stream', async () => {
    fake?.next({
      text: 'Hello from the fake',
      usage: { prompt: 12, completion: 4 },
      splitBytes: 7,
    });
    const stream = client.messages.stream({
      model: 'smart',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hello from the fake' }],
    });
    const texts: string[] = [];
    const events: string[] = [];
    stream.on('text', (text) => texts.push(text));
    stream.on('streamEvent', (event) => events.push(event.type));
    const message = await stream.finalMessage();
    expect(texts.join('')).toBe('Hello from the fake');
    expect(texts.length).toBeGreaterThan(1);
    expect(message.content).toEqual([
      expect.objectContaining({ type: 'text', text: 'Hello from the fake' }),
    ]);
    expect(message.stop_reason).toBe('end_turn');
    if (fake) expect(message.usage).toMatchObject({ input_tokens: 12, output_tokens: 4 });
    expect(events[0]).toBe('message_start');
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(events).toContain('content_block_start');
    expect(events).toContain('content_block_stop');
  });

  it('counts tokens with countTokens', async () => {
    const short = await client.messages.countTokens({
      model: 'smart',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const long = await client.messages.countTokens({
      model: 'smart',
      system: 'You are a careful assistant who answers in full sentences.',
      messages: [{ role: 'user', content: 'Tell me about the weather in Paris in spring.' }],
      tools: [weather],
    });
    expect(short.input_tokens).toBeGreaterThan(0);
    expect(long.input_tokens).toBeGreaterThan(short.input_tokens);
  });

  it('sends a URL image and a base64 image as the provider takes them', async () => {
    const message = await client.messages.create({
      model: 'smart',
      max_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', source: { type: 'url', url: IMAGE_URL } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
          ],
        },
      ],
    });
    if (!fake || !received) {
      expect(message.content).toEqual([
        { type: 'text', text: 'What is in these?\n[image]\n[image]' },
      ]);
      return;
    }
    expect(message.stop_reason).toBe('end_turn');
    expect(received(fake.upstream.calls.at(-1)!.json)).toEqual([
      { kind: 'url', url: IMAGE_URL },
      { kind: 'base64', mediaType: 'image/png', data: PNG },
    ]);
  });

  it('refuses a malformed image with a 400 in Anthropic’s shape, before any upstream call', async () => {
    const calls = fake?.upstream.calls.length;
    const error = await client.messages
      .create({
        model: 'smart',
        max_tokens: 100,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/tiff', data: PNG } },
            ] as never,
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (error as InstanceType<typeof Anthropic.BadRequestError>).error as {
      type: string;
      error: { type: string; message: string };
    };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('image/tiff');
    expect(fake?.upstream.calls.length).toBe(calls);
  });

  it.runIf(type !== 'echo')('completes a tool-use round trip, plain and streamed', async () => {
    const call = { id: 'toolu_01', name: 'get_weather', arguments: '{"city":"Paris"}' };
    fake!.next({ toolCalls: [call] });
    const first = await client.messages.create({
      model: 'smart',
      max_tokens: 100,
      tools: [weather],
      tool_choice: { type: 'auto' },
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });

    fake!.next({ text: 'Sunny in Paris', splitBytes: 9 });
    const stream = client.messages.stream({
      model: 'smart',
      max_tokens: 100,
      tools: [weather],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: use!.id, content: '18°C, sunny' }],
        },
      ],
    });
    expect(await stream.finalText()).toBe('Sunny in Paris');
    // The upstream got the result with the call it answers (the fakes refuse orphans).
    expect(JSON.stringify(fake!.upstream.calls.at(-1)!.json)).toContain('18°C, sunny');

    fake!.next({ toolCalls: [call], splitBytes: 6 });
    const streamed = client.messages.stream({
      model: 'smart',
      max_tokens: 100,
      tools: [weather],
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const json: string[] = [];
    streamed.on('inputJson', (partial) => json.push(partial));
    const message = await streamed.finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      expect.objectContaining({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } }),
    ]);
    expect(JSON.parse(json.join(''))).toEqual({ city: 'Paris' });
  });

  it.runIf(type !== 'echo')(
    'ends a stream cut after its first token with an error event the SDK raises',
    async () => {
      fake!.next({ fail: 'cut_after_first_token', text: 'partial answer' });
      const stream = client.messages.stream({
        model: 'smart',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'go' }],
      });
      const texts: string[] = [];
      stream.on('text', (text) => texts.push(text));
      const error = await stream.finalMessage().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.APIError);
      expect(String((error as Error).message)).toContain('api_error');
      expect(texts.join('')).not.toBe('');
      expect(JSON.stringify(error)).not.toContain(UPSTREAM_KEY);
    },
  );
});
