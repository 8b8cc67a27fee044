/**
 * Conduit's /v1 on the wire: errors in OpenAI's shape and statuses (the SDK's classes and its
 * Retry-After handling included), the model list, embeddings, and the raw SSE framing; every
 * body checked against OpenAI's published schemas.
 */
import OpenAI, { type APIError } from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { createGeminiFake } from '../fakes/gemini.js';
import { createOpenAIFake, fakeEmbedding } from '../fakes/openai.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { assertSchema } from '../helpers/openai-schemas.js';

const keys = { app: 'app-key', narrow: 'narrow-key', limited: 'limited-key' };
let conduit: TestConduit;
let v1: string;

beforeAll(async () => {
  const [openai, gemini] = await Promise.all([createOpenAIFake(), createGeminiFake()]);
  onDispose(() => openai.close());
  onDispose(() => gemini.close());
  conduit = await startConduit(
    {
      providers: {
        echo: { type: 'echo', models: ['echo'] },
        openai: {
          type: 'openai',
          baseUrl: openai.baseUrl,
          keys: ['k'],
          models: ['text-embedding-3-small'],
        },
        gemini: {
          type: 'gemini',
          baseUrl: gemini.baseUrl,
          keys: ['k'],
          models: ['text-embedding-004'],
        },
      },
      models: {
        fast: { targets: [{ provider: 'echo', model: 'echo' }] },
        embed: { targets: [{ provider: 'openai', model: 'text-embedding-3-small' }] },
      },
      clients: [
        { id: 'app', key: '${APP_KEY}' },
        { id: 'narrow', key: '${NARROW_KEY}', models: ['fast', 'echo/echo'] },
        { id: 'limited', key: '${LIMITED_KEY}', rateLimits: [{ requests: 1, perSeconds: 1 }] },
      ],
    },
    { APP_KEY: keys.app, NARROW_KEY: keys.narrow, LIMITED_KEY: keys.limited },
  );
  v1 = `${conduit.url}/v1`;
});

const sdk = (apiKey = keys.app, options: { maxRetries?: number; fetch?: typeof fetch } = {}) =>
  new OpenAI({ baseURL: v1, apiKey, maxRetries: 0, ...options });

async function call(path: string, init: RequestInit & { key?: string } = {}) {
  const response = await fetch(`${v1}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${init.key ?? keys.app}`, ...init.headers },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

/** POSTs a chat body; expects an error; checks shape and headers; returns the error. */
async function chatError(body: string | object, status: number, key = keys.app) {
  const response = await call('/chat/completions', {
    method: 'POST',
    key,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  expect(response.status).toBe(status);
  const json = JSON.parse(response.text) as {
    error: { param: string | null; code: string | null; type: string; message: string };
  };
  assertSchema('ErrorResponse', json);
  for (const name of ['x-conduit-provider', 'x-conduit-cache', 'x-request-id']) {
    expect(response.headers.get(name)).toBeTruthy();
  }
  return { ...json.error, headers: response.headers };
}

const hello = [{ role: 'user', content: 'hi' }];

describe('errors', () => {
  it('answers 400 in OpenAI shape, naming what is wrong, and keeps serving', async () => {
    expect(await chatError('{"model": "fast", "messages": [', 400)).toMatchObject({
      type: 'invalid_request_error',
      param: 'body',
    });
    expect((await chatError({ model: 'fast' }, 400)).param).toBe('messages');
    expect((await chatError({ messages: hello }, 400)).param).toBe('model');
    expect((await chatError({ model: 'fast', messages: hello, n: 2 }, 400)).param).toBe('n');
    expect(
      (await chatError({ model: 'fast', messages: [{ role: 'function', content: 'x' }] }, 400))
        .param,
    ).toBe('messages[0].role');
    const audio = [
      {
        role: 'user',
        content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }],
      },
    ];
    expect((await chatError({ model: 'fast', messages: audio }, 400)).param).toBe(
      'messages[0].content[0].type',
    );
    const image = [
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x' } }] },
    ];
    expect((await chatError({ model: 'fast', messages: image }, 400)).param).toBe(
      'messages[0].content[0].image_url.url',
    );
    expect((await chatError({ model: 'fast', messages: hello, top_p: 3 }, 400)).param).toBe(
      'top_p',
    );
    expect((await chatError({ model: 'nope/x', messages: hello }, 400)).param).toBe('model');
    const ok = await sdk().chat.completions.create({
      model: 'fast',
      messages: [{ role: 'user', content: 'still here' }],
    });
    expect(ok.choices[0]!.message.content).toBe('still here');
  });

  it('gives the SDK a BadRequestError with the param', async () => {
    const error = await sdk()
      .chat.completions.create({ model: 'fast', messages: [], temperature: 5 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe('messages');
  });

  it('answers 401 invalid_api_key for a missing or wrong key', async () => {
    expect(await chatError({ model: 'fast', messages: hello }, 401, '')).toMatchObject({
      code: 'invalid_api_key',
    });
    const error = await sdk('wrong-key')
      .chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as APIError).code).toBe('invalid_api_key');
  });

  it('answers 403 for a model the client may not use', async () => {
    const error = await chatError({ model: 'embed', messages: hello }, 403, keys.narrow);
    expect(error.param).toBe('model');
  });

  it('answers 404 and 405 in OpenAI shape', async () => {
    const missing = await call('/nothing/here');
    expect(missing.status).toBe(404);
    assertSchema('ErrorResponse', JSON.parse(missing.text));
    const wrongVerb = await call('/chat/completions');
    expect(wrongVerb.status).toBe(405);
    expect(wrongVerb.headers.get('allow')).toBe('POST');
  });

  it('answers 429 with Retry-After, which the SDK honours when it retries', async () => {
    const seen: { status: number; retryAfter: string | null; at: number }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      seen.push({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        at: Date.now(),
      });
      return response;
    };
    const limited = sdk(keys.limited, { maxRetries: 1, fetch: recording });
    const params = { model: 'fast', messages: [{ role: 'user' as const, content: 'limit me' }] };
    await limited.chat.completions.create(params);
    const second = await limited.chat.completions.create(params);
    expect(second.choices[0]!.message.content).toBe('limit me');
    expect(seen.map((s) => s.status)).toEqual([200, 429, 200]);
    expect(Number(seen[1]!.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(900);
  });

  it('answers 429 in OpenAI shape with code rate_limit_exceeded', async () => {
    const body = JSON.stringify({ model: 'fast', messages: hello });
    // The first call uses up this second's one request (or finds it used); the next is refused.
    await call('/chat/completions', { method: 'POST', key: keys.limited, body });
    const error = await chatError(body, 429, keys.limited);
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(Number(error.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('gives a failure the id its usage record and log line carry', async () => {
    const error = await chatError({ model: 'nobody/none', messages: hello }, 400);
    const id = error.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    const line = conduit.logs.find((entry) => entry.includes(`"requestId":"${id}"`));
    expect(line).toMatch(/"errorCode":"BAD_USER_INPUT"/);
  });
});

describe('GET /v1/models', () => {
  it('lists what the calling client may use, in OpenAI list format', async () => {
    const page = await sdk(keys.narrow).models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(['fast', 'echo/echo']);
    const raw = await call('/models', { key: keys.narrow });
    assertSchema('ListModelsResponse', JSON.parse(raw.text));
    expect(raw.headers.get('x-request-id')).toBeTruthy();
    const all = (await sdk().models.list()).data.map((m) => m.id);
    expect(all).toEqual(expect.arrayContaining(['fast', 'embed', 'openai/text-embedding-3-small']));
  });

  it('retrieves one model, and 404s one the client may not use', async () => {
    expect(await sdk(keys.narrow).models.retrieve('echo/echo')).toMatchObject({
      id: 'echo/echo',
      owned_by: 'echo',
    });
    const error = await sdk(keys.narrow)
      .models.retrieve('embed')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('POST /v1/embeddings', () => {
  it('answers the SDK (base64 by default) and float requests, with usage', async () => {
    const { data, response } = await sdk()
      .embeddings.create({ model: 'embed', input: ['alpha', 'beta gamma'] })
      .withResponse();
    expect(data.data.map((d) => d.embedding)).toEqual([
      fakeEmbedding('alpha'),
      fakeEmbedding('beta gamma'),
    ]);
    expect(data.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(response.headers.get('x-conduit-provider')).toBe('openai');
    const raw = await call('/embeddings', {
      method: 'POST',
      body: JSON.stringify({ model: 'embed', input: 'alpha', encoding_format: 'float' }),
    });
    const json = JSON.parse(raw.text) as { data: { embedding: number[] }[] };
    assertSchema('CreateEmbeddingResponse', json);
    expect(json.data[0]!.embedding).toEqual(fakeEmbedding('alpha'));
  });

  it('embeds with Gemini, and refuses a model without embeddings', async () => {
    const gemini = await sdk().embeddings.create({
      model: 'gemini/text-embedding-004',
      input: 'delta',
    });
    expect(gemini.data).toHaveLength(1);
    expect(gemini.data[0]!.embedding.length).toBeGreaterThan(0);
    const error = await sdk()
      .embeddings.create({ model: 'fast', input: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe('model');
  });
});

describe('the raw stream', () => {
  it('opens with a comment, frames each chunk as data, and ends with data: [DONE]', async () => {
    const raw = await call('/chat/completions', {
      method: 'POST',
      body: JSON.stringify({
        model: 'fast',
        stream: true,
        messages: [{ role: 'user', content: 'raw frames' }],
      }),
    });
    expect(raw.text.startsWith(':')).toBe(true);
    const frames = raw.text.split('\n\n').filter((f) => f.startsWith('data: '));
    expect(frames.at(-1)).toBe('data: [DONE]');
    for (const frame of frames.slice(0, -1)) {
      assertSchema('CreateChatCompletionStreamResponse', JSON.parse(frame.slice(6)));
    }
    expect(frames).toHaveLength(5); // role, 'raw', ' frames', finish, [DONE]
  });
});
