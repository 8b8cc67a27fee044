/**
 * `/v1/responses` passed through to an OpenAI target, with the official SDK: what the
 * normalised request does not know (`reasoning`, `include`, `metadata`, `service_tier`) reaches
 * the upstream as sent, with our model name and key; the answer's items (a reasoning item) come
 * back unchanged, whole and streamed, and are stored under the upstream's id. A
 * `previous_response_id` of ours is expanded into input items. The pipeline holds as on the
 * translated path: usage rows, a 429 on one key tried on the next, a fallback to an
 * OpenAI-compatible target answered by translation, a stream cut after it began ending with
 * `response.failed` and an `error` the SDK raises.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { assertSchema } from '../helpers/openai-schemas.js';

const KEYS = ['sk-openai-upstream-pass-0001', 'sk-openai-upstream-pass-0002'];
const COMPAT_KEY = 'sk-compat-upstream-pass-0001';
const KEY = 'ck-responses-pass-0001';
const ADMIN = 'ck-responses-pass-admin-0001';
const MODEL = 'gpt-5-mini';

describe('/v1/responses passed through to OpenAI', () => {
  let openai: ProviderFake;
  let compat: ProviderFake;
  let gw: TestConduit;
  let client: OpenAI;

  beforeAll(async () => {
    openai = await createOpenAIFake({ keys: KEYS });
    compat = await createOpenAIFake({ keys: [COMPAT_KEY] });
    gw = await startConduit({
      providers: {
        gpt: { type: 'openai', baseUrl: openai.baseUrl, keys: KEYS },
        local: { type: 'openai-compatible', baseUrl: compat.baseUrl, keys: [COMPAT_KEY] },
      },
      models: {
        smart: { targets: [{ provider: 'gpt', model: MODEL }] },
        mixed: {
          targets: [
            { provider: 'gpt', model: MODEL },
            { provider: 'local', model: 'llama3.2' },
          ],
        },
        local: { targets: [{ provider: 'local', model: 'llama3.2' }] },
      },
      pricing: { [`gpt/${MODEL}`]: { input: 0.25, output: 2 } },
      clients: [
        { id: 'app', key: KEY },
        { id: 'admin', key: ADMIN, admin: true },
      ],
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 5 },
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await openai.close();
    await compat.close();
  });

  async function usageOf(user: string) {
    const { body } = await gql(
      gw.graphqlUrl,
      `query ($user: String) {
        usage(filter: { user: $user }, groupBy: [ROUTE, PROVIDER]) {
          groups { route provider requests errors promptTokens completionTokens costUsd }
        }
      }`,
      { user },
      { authorization: `Bearer ${ADMIN}` },
    );
    expect(body.errors).toBeUndefined();
    return body.data.usage.groups as Record<string, unknown>[];
  }

  const rich = (user: string) => ({
    model: 'smart',
    input: 'Why is the sky blue?',
    instructions: 'Be terse.',
    reasoning: { effort: 'low' as const, summary: 'auto' as const },
    include: ['reasoning.encrypted_content' as const],
    metadata: { ticket: 'T-1' },
    service_tier: 'flex' as const,
    safety_identifier: user,
  });

  it('sends the body as sent and returns the answer as is', async () => {
    openai.next({
      thinking: 'Rayleigh scattering.',
      text: 'Short wavelengths scatter.',
      usage: { prompt: 50, completion: 20 },
    });
    const { data, response } = await client.responses.create(rich('r-whole')).withResponse();
    const call = openai.upstream.calls.at(-1)!;
    expect(call.url).toBe('/v1/responses');
    expect(call.json).toEqual({ ...rich('r-whole'), model: MODEL, stream: false });
    expect(KEYS.map((k) => `Bearer ${k}`)).toContain(call.headers.authorization);

    assertSchema('Response', data);
    expect(data.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
    expect(data.output[0]).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Rayleigh scattering.' }],
      encrypted_content: expect.stringMatching(/^gAAAAB/),
    });
    expect(data.output_text).toBe('Short wavelengths scatter.');
    expect(response.headers.get('x-conduit-provider')).toBe('gpt');
    // Kept under the upstream's own id, for GET and previous_response_id.
    expect(await client.responses.retrieve(data.id)).toEqual(data);
    expect(await usageOf('r-whole')).toEqual([
      {
        route: 'responses',
        provider: 'gpt',
        requests: 1,
        errors: 0,
        promptTokens: 50,
        completionTokens: 20,
        costUsd: expect.closeTo((50 * 0.25 + 20 * 2) / 1e6, 12),
      },
    ]);
  });

  it('relays the stream as it came, reasoning events included, and records its usage', async () => {
    openai.next({
      thinking: 'Think first.',
      text: 'Then answer.',
      usage: { prompt: 8, completion: 4 },
    });
    const stream = client.responses.stream(rich('r-stream'));
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    expect(types).toContain('response.reasoning_summary_text.delta');
    expect(types.at(-1)).toBe('response.completed');
    expect(final.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
    expect(final.output_text).toBe('Then answer.');
    expect((openai.upstream.calls.at(-1)!.json as { stream: boolean }).stream).toBe(true);
    expect(await client.responses.retrieve(final.id)).toMatchObject({ id: final.id });
    expect(await usageOf('r-stream')).toEqual([
      expect.objectContaining({
        route: 'responses',
        provider: 'gpt',
        requests: 1,
        errors: 0,
        promptTokens: 8,
        completionTokens: 4,
      }),
    ]);
  });

  it('expands a previous_response_id of ours into input items', async () => {
    openai.next({ text: 'first answer' }, { text: 'second answer' });
    const first = await client.responses.create({
      model: 'smart',
      instructions: 'OLD',
      input: 'first question',
    });
    const second = await client.responses.create({
      model: 'smart',
      instructions: 'NEW',
      input: [{ role: 'user', content: 'second question' }],
      previous_response_id: first.id,
    });
    const sent = openai.upstream.calls.at(-1)!.json as Record<string, unknown>;
    expect(sent.previous_response_id).toBeUndefined();
    expect(sent.instructions).toBe('NEW');
    expect(sent.input).toEqual([
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: 'second question' },
    ]);
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe('second answer');
  });

  it('tries the next key at once when the upstream answers 429', async () => {
    const before = openai.upstream.calls.length;
    openai.next({ fail: 'rate_limited', retryAfterSeconds: 30 }, { text: 'after the 429' });
    const made = await client.responses.create({ model: 'smart', input: 'hi' });
    expect(made.output_text).toBe('after the 429');
    const keys = openai.upstream.calls.slice(before).map((c) => c.headers.authorization);
    expect(new Set(keys)).toEqual(new Set(KEYS.map((k) => `Bearer ${k}`)));
  });

  it('falls back to an OpenAI-compatible target by translation', async () => {
    openai.next({ fail: 'server' });
    const before = compat.upstream.calls.length;
    const { data, response } = await client.responses
      .create({ model: 'mixed', input: 'Hello translated', safety_identifier: 'r-fallback' })
      .withResponse();
    expect(response.headers.get('x-conduit-provider')).toBe('local');
    expect(compat.upstream.calls[before]!.url).toBe('/v1/chat/completions');
    assertSchema('Response', data);
    expect(data.id).toBe(`resp_${response.headers.get('x-request-id')}`);
    expect(data.output_text).toBe('Hello translated');
    expect(await usageOf('r-fallback')).toEqual([
      expect.objectContaining({ route: 'responses', provider: 'local', requests: 1, errors: 0 }),
    ]);
  });

  it('sends a built-in tool only to an OpenAI target, and refuses it elsewhere', async () => {
    openai.next({ text: 'searched' });
    const tools = [{ type: 'web_search' as const }];
    const made = await client.responses.create({ model: 'mixed', input: 'search', tools });
    expect(made.output_text).toBe('searched');
    expect((openai.upstream.calls.at(-1)!.json as { tools: unknown }).tools).toEqual(tools);
    const refused = await client.responses
      .create({ model: 'local', input: 'search', tools })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools[0].type');
  });

  it('ends a stream cut after it began with response.failed and an error the SDK raises', async () => {
    openai.next({ fail: 'cut_after_first_token', text: 'Half way' });
    const types: string[] = [];
    const failure = await (async () => {
      try {
        const stream = client.responses.stream({
          model: 'smart',
          input: 'cut me',
          safety_identifier: 'r-cut',
        });
        for await (const event of stream) types.push(event.type);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(types).toContain('response.output_text.delta');
    expect(types.at(-1)).toBe('response.failed');
    expect(await usageOf('r-cut')).toEqual([
      expect.objectContaining({ route: 'responses', provider: 'gpt', requests: 1, errors: 1 }),
    ]);
  });
});
