/**
 * `/v1/messages` passed through to an Anthropic target, with the official SDK: what the
 * normalised request does not know (`thinking`, `cache_control`, `top_k`, `metadata`,
 * `service_tier`, a server tool) reaches the upstream as sent, with our model name, our key and
 * the client's `anthropic-version` and `anthropic-beta`; the answer's blocks (a signed thinking
 * block) come back unchanged, whole and streamed. The pipeline holds as on the translated path:
 * usage rows and cost, a 429 on one key tried on the next, a fallback to a non-Anthropic target
 * answered by translation, no cache, the upstream's refusal in Anthropic's shape, the upstream
 * stopped when the client leaves, and a stream cut after it began ending with an `error`.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicFake, thinkingBlock } from '../fakes/anthropic.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';

const KEYS = ['sk-ant-upstream-pass-0001', 'sk-ant-upstream-pass-0002'];
const OPENAI_KEY = 'sk-openai-upstream-pass-0001';
const KEY = 'ck-messages-pass-0001';
const ADMIN = 'ck-messages-pass-admin-0001';
const MODEL = 'claude-sonnet-4-5';
/** The API version the installed SDK sends (translation speaks 2023-06-01). */
const SDK_VERSION = '2026-10-21';
/** USD per million tokens. */
const PRICE = { input: 3, output: 15 };

describe('/v1/messages passed through to Anthropic', () => {
  let claude: ProviderFake;
  let gpt: ProviderFake;
  let gw: TestConduit;
  let client: Anthropic;

  beforeAll(async () => {
    claude = await createAnthropicFake({ keys: KEYS });
    gpt = await createOpenAIFake({ keys: [OPENAI_KEY] });
    gw = await startConduit({
      providers: {
        claude: { type: 'anthropic', baseUrl: claude.baseUrl, keys: KEYS },
        gpt: { type: 'openai', baseUrl: gpt.baseUrl, keys: [OPENAI_KEY] },
      },
      models: {
        smart: { targets: [{ provider: 'claude', model: MODEL }] },
        mixed: {
          targets: [
            { provider: 'claude', model: MODEL },
            { provider: 'gpt', model: 'gpt-4o-mini' },
          ],
        },
        openai: { targets: [{ provider: 'gpt', model: 'gpt-4o-mini' }] },
      },
      pricing: { [`claude/${MODEL}`]: PRICE },
      clients: [
        { id: 'app', key: KEY },
        { id: 'admin', key: ADMIN, admin: true },
      ],
      // On: a request passed through is still never served from it.
      cache: { enabled: true },
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 5 },
    });
    client = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await claude.close();
    await gpt.close();
  });

  /** The usage of one end user's requests, by provider. */
  async function usageOf(user: string) {
    const { body } = await gql(
      gw.graphqlUrl,
      `query ($user: String) {
        usage(filter: { user: $user }, groupBy: [ROUTE, PROVIDER, MODEL]) {
          groups { route provider model requests errors promptTokens completionTokens costUsd }
        }
      }`,
      { user },
      { authorization: `Bearer ${ADMIN}` },
    );
    expect(body.errors).toBeUndefined();
    return body.data.usage.groups as Record<string, unknown>[];
  }

  /** A request using what only Anthropic's API knows. */
  const rich = (user: string) =>
    ({
      model: 'smart',
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      service_tier: 'auto',
      metadata: { user_id: user },
      system: [
        { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Why is the sky blue?', cache_control: { type: 'ephemeral' } },
          ],
        },
      ],
    }) as Anthropic.MessageCreateParamsNonStreaming;

  /** `top_k`, which the installed SDK's types no longer list (its API version refuses it). */
  const withTopK = (body: Anthropic.MessageCreateParamsNonStreaming) =>
    ({ ...body, top_k: 5 }) as Anthropic.MessageCreateParamsNonStreaming;

  it('sends the body as sent and returns the answer as is', async () => {
    claude.next({
      thinking: 'Rayleigh scattering, shorter wavelengths.',
      text: 'Rayleigh scattering.',
      usage: { prompt: 40, completion: 12 },
    });
    // top_k: only the older API version takes it (the SDK's own refuses it upstream).
    const body = withTopK(rich('pass-whole'));
    const { data: message, response } = await client.messages
      .create(body, {
        headers: {
          'anthropic-version': '2023-06-01',
          'anthropic-beta': 'interleaved-thinking-2025-05-14',
        },
      })
      .withResponse();

    const call = claude.upstream.calls.at(-1)!;
    expect(call.url).toBe('/v1/messages');
    const { model, ...sent } = call.json as Record<string, unknown>;
    const { model: _asked, ...asked } = body as unknown as Record<string, unknown>;
    expect(model).toBe(MODEL);
    expect(sent).toEqual({ ...asked, stream: false });
    expect(KEYS).toContain(call.headers['x-api-key']);
    expect(call.headers['anthropic-version']).toBe('2023-06-01');
    expect(call.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
    expect(call.headers.authorization).toBeUndefined();

    // The upstream's own message: its id, its signed thinking block, its usage.
    expect(message.id).toMatch(/^msg_fake/);
    expect(message.model).toBe(MODEL);
    expect(message.content).toEqual([
      thinkingBlock('Rayleigh scattering, shorter wavelengths.'),
      { type: 'text', text: 'Rayleigh scattering.' },
    ]);
    expect(message.usage).toMatchObject({ input_tokens: 40, output_tokens: 12 });
    expect(response.headers.get('x-conduit-provider')).toBe('claude');
    expect(response.headers.get('request-id')).toBe(response.headers.get('x-request-id'));

    expect(await usageOf('pass-whole')).toEqual([
      {
        route: 'messages',
        provider: 'claude',
        model: MODEL,
        requests: 1,
        errors: 0,
        promptTokens: 40,
        completionTokens: 12,
        costUsd: expect.closeTo((40 * PRICE.input + 12 * PRICE.output) / 1e6, 12),
      },
    ]);
  });

  it('relays the stream as it came, thinking deltas included, and records its usage', async () => {
    claude.next({
      thinking: 'Light scatters off small molecules.',
      text: 'Blue light scatters most.',
      usage: { prompt: 30, completion: 9 },
    });
    const stream = client.messages.stream(rich('pass-stream'));
    const kinds: string[] = [];
    for await (const event of stream) {
      kinds.push(event.type === 'content_block_delta' ? event.delta.type : event.type);
    }
    const message = await stream.finalMessage();
    expect(kinds).toContain('thinking_delta');
    expect(kinds).toContain('signature_delta');
    expect(message.content).toEqual([
      thinkingBlock('Light scatters off small molecules.'),
      { type: 'text', text: 'Blue light scatters most.' },
    ]);
    expect(message.usage).toMatchObject({ input_tokens: 30, output_tokens: 9 });
    const call = claude.upstream.calls.at(-1)!;
    expect((call.json as { stream: boolean }).stream).toBe(true);
    // The SDK's own API version, not the one translation speaks.
    expect(call.headers['anthropic-version']).toBe(SDK_VERSION);
    expect(await usageOf('pass-stream')).toEqual([
      expect.objectContaining({
        route: 'messages',
        provider: 'claude',
        requests: 1,
        errors: 0,
        promptTokens: 30,
        completionTokens: 9,
      }),
    ]);
  });

  it('never serves a request passed through from the cache', async () => {
    const before = claude.upstream.calls.length;
    const body = {
      model: 'smart',
      max_tokens: 50,
      messages: [{ role: 'user' as const, content: 'same question twice' }],
    };
    await client.messages.create(body);
    await client.messages.create(body);
    expect(claude.upstream.calls.length).toBe(before + 2);
  });

  it('tries the next key at once when the upstream answers 429', async () => {
    const before = claude.upstream.calls.length;
    claude.next({ fail: 'rate_limited', retryAfterSeconds: 30 });
    const message = await client.messages.create(
      withTopK({ ...rich('pass-429'), thinking: { type: 'disabled' } }),
      { headers: { 'anthropic-version': '2023-06-01' } },
    );
    expect(message.content).toEqual([{ type: 'text', text: 'Why is the sky blue?' }]);
    const calls = claude.upstream.calls.slice(before);
    const keys = calls.map((c) => c.headers['x-api-key']);
    expect(keys).toHaveLength(2);
    expect(new Set(keys)).toEqual(new Set(KEYS));
    expect(calls.every((c) => (c.json as { top_k?: number }).top_k === 5)).toBe(true);
  });

  it('falls back to a non-Anthropic target by translation', async () => {
    claude.next({ fail: 'server' });
    const before = gpt.upstream.calls.length;
    const { data: message, response } = await client.messages
      .create({
        model: 'mixed',
        max_tokens: 100,
        metadata: { user_id: 'pass-fallback' },
        messages: [{ role: 'user', content: 'Hello translated' }],
      })
      .withResponse();
    expect(response.headers.get('x-conduit-provider')).toBe('gpt');
    const call = gpt.upstream.calls[before]!;
    expect(call.url).toBe('/v1/chat/completions');
    expect((call.json as { messages: unknown }).messages).toEqual([
      { role: 'user', content: 'Hello translated' },
    ]);
    // Our own message, made from the translated answer.
    expect(message.id).toBe(`msg_${response.headers.get('x-request-id')!.replaceAll('-', '')}`);
    expect(message.content).toEqual([{ type: 'text', text: 'Hello translated' }]);
    expect(await usageOf('pass-fallback')).toEqual([
      expect.objectContaining({ route: 'messages', provider: 'gpt', requests: 1, errors: 0 }),
    ]);
  });

  it('routes what translation cannot carry only to Anthropic targets, else refuses it', async () => {
    claude.next({ fail: 'server' });
    const before = gpt.upstream.calls.length;
    // top_k: the Anthropic target fails, and the OpenAI one may not take it.
    const old = { headers: { 'anthropic-version': '2023-06-01' } };
    await expect(
      client.messages.create(withTopK({ ...rich('pass-topk'), model: 'mixed' }), old),
    ).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    expect(gpt.upstream.calls.length).toBe(before);
    const refused = await client.messages
      .create(withTopK({ ...rich('pass-topk'), model: 'openai' }), old)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as Error).message).toContain('top_k');
    const tool = await client.messages
      .create({
        model: 'openai',
        max_tokens: 50,
        tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 1 }],
        messages: [{ role: 'user', content: 'search' }],
      })
      .catch((error: unknown) => error);
    expect(tool).toBeInstanceOf(Anthropic.BadRequestError);
    expect((tool as Error).message).toContain('tools[0].type');
  });

  it('answers the upstream’s refusal in Anthropic’s shape', async () => {
    // The SDK's own API version refuses top_k upstream (the fake does as Anthropic does).
    const refused = await client.messages
      .create(withTopK({ ...rich('pass-refused'), thinking: { type: 'disabled' } }))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    const error = (refused as InstanceType<typeof Anthropic.BadRequestError>).error as {
      type: string;
      error: { type: string; message: string };
    };
    expect(error.type).toBe('error');
    expect(error.error.type).toBe('invalid_request_error');
    expect(error.error.message).toContain('top_k');
    expect(JSON.stringify(error)).not.toContain(KEYS[0]);
  });

  it('stops the upstream when the client leaves a stream', async () => {
    claude.next({ fail: 'stall_after_first_token', text: 'Slow' });
    const controller = new AbortController();
    const response = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({
        model: 'smart',
        max_tokens: 50,
        stream: true,
        messages: [{ role: 'user', content: 'stall' }],
      }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain('message_start');
    controller.abort();
    await claude.upstream.calls.at(-1)!.aborted;
  });

  it('ends a stream cut after it began with an error event the SDK raises', async () => {
    claude.next({ fail: 'cut_after_first_token', text: 'Half' });
    const stream = client.messages.stream({
      model: 'smart',
      max_tokens: 50,
      metadata: { user_id: 'pass-cut' },
      messages: [{ role: 'user', content: 'cut me' }],
    });
    const failure = await (async () => {
      try {
        for await (const _ of stream);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(Anthropic.APIError);
    expect(String((failure as Error).message)).toMatch(/broke after it began/);
    expect(await usageOf('pass-cut')).toEqual([
      expect.objectContaining({ route: 'messages', provider: 'claude', requests: 1, errors: 1 }),
    ]);
  });
});
