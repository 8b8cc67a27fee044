/**
 * Images on every route: GraphQL `MessageInput.parts` and OpenAI's `image_url` content parts on
 * `/v1/chat/completions` reach each provider type in its own shape (the fakes check it as their
 * APIs do); bad parts are a 400 naming the field; a provider configured without images is
 * refused by name, never sent the text alone; the images are part of the cache key.
 */
import OpenAI from 'openai';
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
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';

const UPSTREAM_KEY = 'sk-upstream-images-0001';
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const IMAGE_URL = 'https://images.example/dog.webp';
const expected: ReceivedImage[] = [
  { kind: 'url', url: IMAGE_URL },
  { kind: 'base64', mediaType: 'image/png', data: PNG },
];

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
    }
  }
`;

const cases: {
  type: string;
  make: () => Promise<ProviderFake>;
  received: (body: unknown) => ReceivedImage[];
}[] = [
  {
    type: 'openai',
    make: () => createOpenAIFake({ keys: [UPSTREAM_KEY] }),
    received: openAIImages,
  },
  {
    type: 'openai-compatible',
    make: () => createOpenAIFake({ keys: [UPSTREAM_KEY] }),
    received: openAIImages,
  },
  {
    type: 'anthropic',
    make: () => createAnthropicFake({ keys: [UPSTREAM_KEY] }),
    received: (body) => anthropicImages((body as { messages: unknown }).messages),
  },
  {
    type: 'gemini',
    make: () => createGeminiFake({ keys: [UPSTREAM_KEY] }),
    received: geminiImages,
  },
  {
    type: 'mistral',
    make: () => createMistralFake({ keys: [UPSTREAM_KEY] }),
    received: openAIImages,
  },
];

const graphqlParts = [
  { type: 'TEXT', text: 'What is this?' },
  { type: 'IMAGE', imageUrl: IMAGE_URL },
  { type: 'IMAGE', imageBase64: PNG, mediaType: 'image/png' },
];

describe.each(cases)('images to $type', ({ type, make, received }) => {
  let fake: ProviderFake;
  let gw: TestConduit;

  beforeAll(async () => {
    fake = await make();
    gw = await startConduit({
      providers: { up: { type, baseUrl: fake.baseUrl, keys: [UPSTREAM_KEY] } },
      models: { vision: { targets: [{ provider: 'up', model: 'vision-model' }] } },
      cache: { enabled: false },
    });
  });
  afterAll(() => fake.close());

  it('sends GraphQL parts in the provider’s shape', async () => {
    const { body } = await gql(gw.graphqlUrl, COMPLETE, {
      input: { model: 'vision', messages: [{ role: 'USER', parts: graphqlParts }] },
    });
    expect(body.errors).toBeUndefined();
    expect(received(fake.upstream.calls.at(-1)!.json)).toEqual(expected);
    expect(JSON.stringify(fake.upstream.calls.at(-1)!.json)).toContain('What is this?');
  });

  it('sends OpenAI image_url parts from /v1/chat/completions, streamed too', async () => {
    const sdk = new OpenAI({ apiKey: 'unused', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: IMAGE_URL } },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'low' } },
        ],
      },
    ];
    await sdk.chat.completions.create({ model: 'vision', messages });
    expect(received(fake.upstream.calls.at(-1)!.json)).toEqual(expected);
    const stream = await sdk.chat.completions.create({ model: 'vision', messages, stream: true });
    for await (const chunk of stream) void chunk;
    expect(received(fake.upstream.calls.at(-1)!.json)).toEqual(expected);
  });
});

describe('image parts that cannot be sent', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: {
        echo: { type: 'echo' },
        textonly: { type: 'echo', images: false },
      },
      models: { blind: { targets: [{ provider: 'textonly', model: 'echo' }] } },
    });
  });

  const ask = (model: string, parts: unknown[], extra: Record<string, unknown> = {}) =>
    gql(gw.graphqlUrl, COMPLETE, {
      input: { model, messages: [{ role: 'USER', parts, ...extra }] },
    }).then((r) => r.body);

  it('lets echo describe the images it cannot see', async () => {
    const body = await ask('echo/echo', graphqlParts);
    expect(body.data.complete.content).toBe('What is this?\n[image]\n[image]');
  });

  it.each([
    [[{ type: 'IMAGE', imageUrl: IMAGE_URL, imageBase64: PNG }], 'messages[0].parts[0]'],
    [[{ type: 'IMAGE', imageBase64: PNG }], 'messages[0].parts[0].mediaType'],
    [
      [{ type: 'IMAGE', imageBase64: PNG, mediaType: 'image/bmp' }],
      'messages[0].parts[0].imageBase64',
    ],
    [
      [{ type: 'IMAGE', imageBase64: 'not base64!', mediaType: 'image/png' }],
      'messages[0].parts[0].imageBase64',
    ],
    [[{ type: 'IMAGE', imageUrl: 'file:///etc/passwd' }], 'messages[0].parts[0].imageUrl'],
    [[{ type: 'TEXT' }], 'messages[0].parts[0].text'],
  ])('refuses GraphQL parts %j naming %s', async (parts, field) => {
    const body = await ask('echo/echo', parts);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  it('refuses content beside parts, and images in an assistant turn', async () => {
    const both = await ask('echo/echo', graphqlParts, { content: 'twice' });
    expect(both.errors?.[0]?.extensions).toMatchObject({ field: 'messages[0].content' });
    const assistant = await gql(gw.graphqlUrl, COMPLETE, {
      input: {
        model: 'echo/echo',
        messages: [
          { role: 'USER', content: 'hi' },
          { role: 'ASSISTANT', parts: graphqlParts },
        ],
      },
    });
    expect(assistant.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'messages[1].parts',
    });
  });

  it('refuses images for a provider that takes none, naming it, on every route', async () => {
    const body = await ask('blind', graphqlParts);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toContain('textonly takes no images');

    const rest = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'blind',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: IMAGE_URL } }] },
        ],
      }),
    });
    expect(rest.status).toBe(400);
    expect(((await rest.json()) as { error: { message: string } }).error.message).toContain(
      'textonly takes no images',
    );

    const messages = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'blind',
        max_tokens: 10,
        messages: [
          { role: 'user', content: [{ type: 'image', source: { type: 'url', url: IMAGE_URL } }] },
        ],
      }),
    });
    expect(messages.status).toBe(400);
    expect(await messages.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('textonly') },
    });
    // Text alone still goes there.
    expect((await ask('blind', [{ type: 'TEXT', text: 'plain' }])).data.complete.content).toBe(
      'plain',
    );
  });

  it('keys the cache by the images too', async () => {
    const send = async (url: string) => {
      const response = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'echo/echo',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'same text' },
                { type: 'image_url', image_url: { url } },
              ],
            },
          ],
        }),
      });
      await response.arrayBuffer();
      return response.headers.get('x-conduit-cache');
    };
    expect(await send('https://images.example/a.png')).toBe('MISS');
    expect(await send('https://images.example/a.png')).toBe('HIT');
    expect(await send('https://images.example/b.png')).toBe('MISS');
  });
});
