/**
 * The semantic cache over the REST routes, through the official SDKs on real sockets, with the
 * built-in lexical embedder: the request headers `x-conduit-cache-min-similarity` (raises the
 * threshold, never lowers it) and `x-conduit-cache: no-store`, a clear 400 naming the header on
 * a bad value, and `x-conduit-cache: semantic-hit` with its similarity on chat completions,
 * responses and messages, streamed or not.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { lexicalVector } from '../../src/semantic/lexical.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const app = { id: 'app', key: 'ck-semantic-rest-01', semanticCache: { enabled: true } };

let fake: ProviderFake;
let gw: TestConduit;
let openai: OpenAI;
let anthropic: Anthropic;

const configWith = (clients: unknown[]) => ({
  database: { url: 'sqlite::memory:' },
  // OpenAI-compatible, so /v1/responses is translated: a request passed through to an `openai`
  // target as sent is never cached (its body holds more than a cache key sees).
  providers: { up: { type: 'openai-compatible', baseUrl: fake.baseUrl, keys: ['sk-up-rest'] } },
  models: { chat: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }] } },
  clients,
  cache: { semantic: { enabled: true } },
  retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
});

beforeAll(async () => {
  fake = await createOpenAIFake();
  gw = await startConduit(configWith([app]));
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: app.key, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: app.key, maxRetries: 0 });
});

const similarity = (a: string, b: string) =>
  lexicalVector(a).reduce((sum, v, i) => sum + v * lexicalVector(b)[i]!, 0);

const chat = (content: string, headers: Record<string, string> = {}) =>
  openai.chat.completions
    .create({ model: 'chat', messages: [{ role: 'user', content }] }, { headers })
    .withResponse();

const cacheOf = (response: Response) => ({
  cache: response.headers.get('x-conduit-cache'),
  similarity: response.headers.get('x-conduit-cache-similarity'),
});

/** The error an SDK call ended with. */
const refusal = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error('expected a 400');
    },
    (error: unknown) => error as { status: number; message: string; error?: any },
  );

describe('the semantic cache over /v1/chat/completions', () => {
  const asked = 'Who painted the Mona Lisa?';
  const paraphrase = 'The Mona Lisa: who painted it?';
  const related = 'Who stole the Mona Lisa?';

  it('lets the headers raise the threshold, never lower it, and store nothing', async () => {
    const near = similarity(asked, paraphrase);
    expect(near).toBeGreaterThan(0.95);
    expect(near).toBeLessThan(0.9999);
    expect(similarity(asked, related)).toBeLessThan(0.95);

    expect(cacheOf((await chat(asked)).response)).toEqual({ cache: 'MISS', similarity: null });

    // Raised above the pair's similarity: a miss; `no-store`: that answer is kept by neither cache.
    const strict = await chat(paraphrase, {
      'x-conduit-cache-min-similarity': '0.9999',
      'x-conduit-cache': 'no-store',
    });
    expect(cacheOf(strict.response)).toEqual({ cache: 'MISS', similarity: null });
    expect(strict.data.choices[0]!.message.content).toBe(paraphrase);

    // The same words again: neither an exact hit (not stored) nor its own answer, but the first.
    const hit = await chat(paraphrase);
    expect(hit.response.headers.get('x-conduit-cache')).toBe('semantic-hit');
    expect(Number(hit.response.headers.get('x-conduit-cache-similarity'))).toBeCloseTo(near, 3);
    expect(hit.data.choices[0]!.message.content).toBe(asked);

    // A threshold below the configured one changes nothing: a related question is a miss.
    const lax = await chat(related, { 'x-conduit-cache-min-similarity': '0.1' });
    expect(cacheOf(lax.response).cache).toBe('MISS');
    expect(lax.data.choices[0]!.message.content).toBe(related);
  });

  it('keeps the exact modes beside no-store, in any case', async () => {
    const question = 'Which planet is the largest in the solar system?';
    await chat(question);
    const refreshed = await chat(question, { 'x-conduit-cache': 'Refresh, No-Store' });
    expect(cacheOf(refreshed.response).cache).toBe('MISS');
    expect(cacheOf((await chat(question)).response).cache).toBe('HIT');
  });

  it.each([
    ['x-conduit-cache-min-similarity', '1.5'],
    ['x-conduit-cache-min-similarity', '0'],
    ['x-conduit-cache-min-similarity', 'high'],
    ['x-conduit-cache-min-similarity', '0x1'],
    ['x-conduit-cache', 'sometimes'],
    ['x-conduit-cache', 'bypass, refresh'],
  ])('answers 400 naming %s on %j', async (header, value) => {
    const error = await refusal(chat('Is this refused?', { [header]: value }));
    expect(error.status).toBe(400);
    expect(error.error?.param).toBe(header);
    expect(error.message).toContain(header);
  });
});

describe('the semantic cache over /v1/responses', () => {
  it('serves a paraphrase with its similarity, streamed or not, and obeys the headers', async () => {
    await openai.responses.create({
      model: 'chat',
      input: 'How do I export my contacts to a CSV file?',
    });
    const paraphrase = 'how do i export my contacts to a csv file please';

    const strict = await openai.responses
      .create(
        { model: 'chat', input: paraphrase },
        {
          headers: { 'x-conduit-cache-min-similarity': '0.9999', 'x-conduit-cache': 'no-store' },
        },
      )
      .withResponse();
    expect(cacheOf(strict.response).cache).toBe('MISS');

    const hit = await openai.responses.create({ model: 'chat', input: paraphrase }).withResponse();
    expect(hit.response.headers.get('x-conduit-cache')).toBe('semantic-hit');
    expect(Number(hit.response.headers.get('x-conduit-cache-similarity'))).toBeGreaterThan(0.95);
    expect(hit.data.output_text).toBe('How do I export my contacts to a CSV file?');

    // JSON output is another scope: a text answer is never served for it.
    const json = await openai.responses
      .create({ model: 'chat', input: paraphrase, text: { format: { type: 'json_object' } } })
      .withResponse();
    expect(cacheOf(json.response).cache).toBe('MISS');

    const streamed = await openai.responses
      .create({ model: 'chat', input: paraphrase, stream: true })
      .withResponse();
    expect(streamed.response.headers.get('x-conduit-cache')).toBe('semantic-hit');
    const deltas: string[] = [];
    for await (const event of streamed.data)
      if (event.type === 'response.output_text.delta') deltas.push(event.delta);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('How do I export my contacts to a CSV file?');

    const error = await refusal(
      openai.responses.create(
        { model: 'chat', input: paraphrase },
        { headers: { 'x-conduit-cache-min-similarity': '2' } },
      ),
    );
    expect(error.status).toBe(400);
    expect(error.message).toContain('x-conduit-cache-min-similarity');
  });
});

describe('the semantic cache over /v1/messages', () => {
  const ask = (content: string) => ({
    model: 'chat',
    max_tokens: 200,
    messages: [{ role: 'user' as const, content }],
  });

  it('serves a paraphrase with its similarity, streamed or not, and obeys the headers', async () => {
    const asked = 'What is the capital of France?';
    const paraphrase = 'France: what is the capital?';
    await anthropic.messages.create(ask(asked));

    const strict = await anthropic.messages
      .create(ask(paraphrase), {
        headers: { 'x-conduit-cache-min-similarity': '0.9999', 'x-conduit-cache': 'no-store' },
      })
      .withResponse();
    expect(cacheOf(strict.response).cache).toBe('MISS');

    const hit = await anthropic.messages.create(ask(paraphrase)).withResponse();
    expect(hit.response.headers.get('x-conduit-cache')).toBe('semantic-hit');
    expect(Number(hit.response.headers.get('x-conduit-cache-similarity'))).toBeGreaterThan(0.95);
    expect(hit.data.content).toMatchObject([{ type: 'text', text: asked }]);

    const streamed = await anthropic.messages
      .create({ ...ask(paraphrase), stream: true })
      .withResponse();
    expect(streamed.response.headers.get('x-conduit-cache')).toBe('semantic-hit');
    const deltas: string[] = [];
    for await (const event of streamed.data)
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta')
        deltas.push(event.delta.text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(asked);

    const error = await refusal(
      anthropic.messages.create(ask(paraphrase), {
        headers: { 'x-conduit-cache': 'never' },
      }),
    );
    expect(error.status).toBe(400);
    expect(error.message).toContain('x-conduit-cache');
  });
});

describe("a client's semanticCache on reload", () => {
  it('follows the reload: off, then on again, with the entries kept', async () => {
    const asked = 'How do I turn on dark mode in the settings?';
    const paraphrase = 'how do I turn on dark mode in the settings';
    await chat(asked);
    const { semanticCache: _, ...withoutIt } = app;
    await gw.conduit.reload(parseConfig(configWith([withoutIt]), {}));
    expect(
      cacheOf((await chat(paraphrase, { 'x-conduit-cache': 'no-store' })).response).cache,
    ).toBe('MISS');
    await gw.conduit.reload(parseConfig(configWith([app]), {}));
    expect(cacheOf((await chat(paraphrase)).response).cache).toBe('semantic-hit');
  });
});
