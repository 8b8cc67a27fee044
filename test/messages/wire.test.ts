/**
 * `/v1/messages` on the wire, read raw: the key in `x-api-key` or Bearer, Anthropic's error
 * shape and statuses, the named events of a stream in Anthropic's order (a ping among them), a
 * failure before the first token as an error status, and the route in the usage records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnthropicFake } from '../fakes/anthropic.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';

const UPSTREAM_KEY = 'sk-ant-upstream-wire-0001';
const KEY = 'ck-messages-wire-0001';
const hello = { max_tokens: 50, messages: [{ role: 'user', content: 'Hello there' }] };

describe('/v1/messages on the wire', () => {
  let fake: ProviderFake;
  let gw: TestConduit;

  beforeAll(async () => {
    fake = await createAnthropicFake({ keys: [UPSTREAM_KEY] });
    gw = await startConduit({
      providers: {
        claude: { type: 'anthropic', baseUrl: fake.baseUrl, keys: [UPSTREAM_KEY] },
        echo: { type: 'echo' },
      },
      models: { smart: { targets: [{ provider: 'claude', model: 'claude-haiku-4-5' }] } },
      clients: [
        { id: 'app', key: KEY, models: ['smart', 'echo/*'] },
        { id: 'admin', key: 'ck-messages-admin-0001', admin: true },
      ],
      retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 5 },
      cache: { enabled: false },
    });
  });
  afterAll(() => fake.close());

  const post = (
    body: unknown,
    headers: Record<string, string> = { 'x-api-key': KEY },
    path = '/v1/messages',
  ) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('takes the key in x-api-key or Authorization: Bearer', async () => {
    const a = await post({ model: 'echo/echo', ...hello });
    const b = await post({ model: 'echo/echo', ...hello }, { authorization: `Bearer ${KEY}` });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(((await a.json()) as { content: unknown }).content).toEqual([
      { type: 'text', text: 'Hello there' },
    ]);
    expect(b.headers.get('request-id')).toBeTruthy();
  });

  it.each([
    ['no key', { model: 'echo/echo', ...hello }, {}, 401, 'authentication_error', undefined],
    [
      'a wrong key',
      { model: 'echo/echo', ...hello },
      { 'x-api-key': 'nope' },
      401,
      'authentication_error',
      undefined,
    ],
    [
      'a model not allowed',
      { model: 'claude/claude-opus-4-5', ...hello },
      undefined,
      403,
      'permission_error',
      'may not use',
    ],
    [
      'no max_tokens',
      { model: 'echo/echo', messages: hello.messages },
      undefined,
      400,
      'invalid_request_error',
      'max_tokens',
    ],
    ['bad JSON', '{"model":', undefined, 400, 'invalid_request_error', 'not valid JSON'],
    [
      'top_k',
      { model: 'echo/echo', top_k: 5, ...hello },
      undefined,
      400,
      'invalid_request_error',
      'top_k',
    ],
    [
      'a server tool',
      {
        model: 'echo/echo',
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        ...hello,
      },
      undefined,
      400,
      'invalid_request_error',
      'tools[0].type',
    ],
    [
      'a document block',
      {
        model: 'echo/echo',
        max_tokens: 5,
        messages: [{ role: 'user', content: [{ type: 'document' }] }],
      },
      undefined,
      400,
      'invalid_request_error',
      'messages[0].content[0].type',
    ],
  ])('answers %s in Anthropic’s shape', async (_, body, headers, status, type, words) => {
    const response = await post(body, headers);
    expect(response.status).toBe(status);
    const json = (await response.json()) as Record<string, any>;
    expect(json).toMatchObject({ type: 'error', error: { type }, request_id: expect.any(String) });
    if (words) expect(json.error.message).toContain(words);
  });

  it('answers 404 and 405 in Anthropic’s shape', async () => {
    const missing = await post({}, { 'x-api-key': KEY }, '/v1/messages/batches');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' },
    });
    const get = await fetch(`${gw.url}/v1/messages`, { headers: { 'x-api-key': KEY } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('streams named events in Anthropic’s order, with a ping', async () => {
    fake.next({ text: 'one two three', usage: { prompt: 9, completion: 3 } });
    const response = await post({ model: 'smart', stream: true, ...hello });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    const events = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    // An Anthropic target's own events, in the order it sent them (its ping after the block).
    expect(events).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const data = [...text.matchAll(/^data: (\{.*\})$/gm)].map((m) => JSON.parse(m[1]!));
    // Each event's data names its own type.
    expect(data.map((d) => d.type)).toEqual(events);
    expect(data.at(-2)).toMatchObject({
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 9, output_tokens: 3 },
    });
  });

  it('answers a failure before the first token with an error status, not a stream', async () => {
    fake.next({ fail: 'overloaded' });
    const response = await post({ model: 'smart', stream: true, ...hello });
    expect(response.status).toBe(500);
    expect(response.headers.get('x-should-retry')).toBe('false');
    const body = (await response.json()) as Record<string, any>;
    expect(body).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(JSON.stringify(body)).not.toContain(UPSTREAM_KEY);
  });

  it('records every request under the messages route', async () => {
    const { body } = await gql(
      gw.graphqlUrl,
      '{ usage(filter: { client: "app" }, groupBy: [ROUTE]) { groups { route requests } } }',
      {},
      { authorization: 'Bearer ck-messages-admin-0001' },
    );
    expect(body.data.usage.groups).toEqual([{ route: 'messages', requests: expect.any(Number) }]);
    expect(gw.logs.join('')).not.toContain(KEY);
    expect(gw.logs.join('')).not.toContain(UPSTREAM_KEY);
  });
});
