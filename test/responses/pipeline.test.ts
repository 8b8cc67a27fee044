/**
 * /v1/responses goes through the same gateway pipeline as /v1/chat/completions: rate limits
 * (429 with Retry-After), budgets, the exact cache (HIT), fallback to the next target and usage
 * rows, streamed or not.
 */
import OpenAI, { RateLimitError } from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const UPSTREAM_KEY = 'sk-upstream-pipeline-01';
let conduit: TestConduit;
let broken: ProviderFake;
let priced: ProviderFake;
const client = (key: string) =>
  new OpenAI({ baseURL: `${conduit.url}/v1`, apiKey: key, maxRetries: 0 });

beforeAll(async () => {
  broken = await createOpenAIFake({ keys: [UPSTREAM_KEY] });
  priced = await createOpenAIFake({ keys: [UPSTREAM_KEY] });
  onDispose(() => broken.close());
  onDispose(() => priced.close());
  conduit = await startConduit({
    providers: {
      echo: { type: 'echo', models: ['echo'] },
      broken: { type: 'openai', baseUrl: broken.baseUrl, keys: [UPSTREAM_KEY], models: ['gpt'] },
      priced: { type: 'openai', baseUrl: priced.baseUrl, keys: [UPSTREAM_KEY], models: ['gpt'] },
    },
    // $0.001 a token.
    pricing: { 'priced/gpt': { input: 1000, output: 1000 } },
    models: {
      fast: { targets: [{ provider: 'echo', model: 'echo' }] },
      paid: { targets: [{ provider: 'priced', model: 'gpt' }] },
      sturdy: {
        targets: [
          { provider: 'broken', model: 'gpt' },
          { provider: 'echo', model: 'echo' },
        ],
      },
    },
    retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
    clients: [
      { id: 'limited', key: 'key-limited', rateLimits: [{ requests: 2, perSeconds: 3600 }] },
      { id: 'broke', key: 'key-broke', budget: { usd: 0.05, period: 'day' } },
      { id: 'counted', key: 'key-counted' },
    ],
  });
});

describe('/v1/responses in the gateway pipeline', () => {
  it('counts against the client’s rate limit, streamed or not, and answers 429 past it', async () => {
    const limited = client('key-limited');
    await limited.responses.create({ model: 'fast', input: 'one' });
    const stream = limited.responses.stream({ model: 'fast', input: 'two' });
    for await (const event of stream) void event;
    const refused = await limited.responses.create({ model: 'fast', input: 'three' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(Number((refused as RateLimitError).headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  it('charges the client’s budget and refuses once it is spent', async () => {
    const broke = client('key-broke');
    let answered = 0;
    let refusal: unknown;
    for (let i = 0; i < 20 && refusal === undefined; i++) {
      await broke.responses
        .create({ model: 'paid', input: `spend a little ${i}`, max_output_tokens: 5, store: false })
        .then(
          () => answered++,
          (error: unknown) => (refusal = error),
        );
    }
    expect(answered).toBeGreaterThan(0);
    expect(refusal).toBeInstanceOf(RateLimitError);
    expect((refusal as RateLimitError).code).toBe('insufficient_quota');
    const spent = await conduit.conduit.services.spentUsd('broke');
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(0.05);
  });

  it('answers from the exact cache the second time', async () => {
    const counted = client('key-counted');
    const params = { model: 'fast', input: 'cache this response', store: false };
    const first = await counted.responses.create(params).withResponse();
    expect(first.response.headers.get('x-conduit-cache')).toBe('MISS');
    const second = await counted.responses.create(params).withResponse();
    expect(second.response.headers.get('x-conduit-cache')).toBe('HIT');
    expect(second.data.output_text).toBe('cache this response');
    expect(second.data.id).not.toBe(first.data.id);
  });

  it('falls back to the next target when the first fails', async () => {
    broken.next({ fail: 'server' });
    const { data, response } = await client('key-counted')
      .responses.create({ model: 'sturdy', input: 'fall back please' })
      .withResponse();
    expect(response.headers.get('x-conduit-provider')).toBe('echo');
    expect(data.output_text).toBe('fall back please');
  });

  it('stops the upstream when the client leaves mid-stream', async () => {
    broken.next({ fail: 'stall_after_first_token', text: 'Hanging' });
    const controller = new AbortController();
    const response = await fetch(`${conduit.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: 'Bearer key-counted', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'broken/gpt', input: 'stall', stream: true, store: false }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('response.output_text.delta')) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    await broken.upstream.calls.at(-1)!.aborted;
  });

  it('records a usage row per request, with the tokens the Response reports', async () => {
    const counted = client('key-counted');
    const usage = conduit.conduit.services.usage;
    await usage.flush();
    const before = await usage.query({ clientId: 'counted' }, []);
    const made = await counted.responses.create({
      model: 'fast',
      input: 'count these four words',
      store: false,
    });
    await usage.flush();
    const after = await usage.query({ clientId: 'counted' }, []);
    expect(after.requests).toBe(before.requests + 1);
    expect(after.completionTokens - before.completionTokens).toBe(made.usage!.output_tokens);
  });
});
