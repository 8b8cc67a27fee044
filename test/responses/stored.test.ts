/**
 * Stored responses: per client (another client's id is 404 everywhere), `store: false`, GET and
 * DELETE, `item_reference` input items, the retention limit and its background sweep; and the
 * route's errors: bad input named by its parameter, unknown ids, wrong methods.
 */
import OpenAI, { NotFoundError } from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { startConduit } from '../helpers/conduit.js';
import { assertSchema } from '../helpers/openai-schemas.js';
import { APP_KEY, OTHER_KEY, startResponsesConduit, type ResponsesConduit } from './setup.js';

let setup: ResponsesConduit;
let app: OpenAI;
let other: OpenAI;

beforeAll(async () => {
  setup = await startResponsesConduit({ responses: { retentionDays: 2 } });
  const baseURL = `${setup.conduit.url}/v1`;
  app = new OpenAI({ baseURL, apiKey: APP_KEY, maxRetries: 0 });
  other = new OpenAI({ baseURL, apiKey: OTHER_KEY, maxRetries: 0 });
});

const post = (body: unknown, key = APP_KEY) =>
  fetch(`${setup.conduit.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('stored responses', () => {
  it('are kept per client: another client gets 404 on GET, DELETE and previous_response_id', async () => {
    const mine = await app.responses.create({ model: 'alias-echo', input: 'private words' });
    const fetched = await app.responses.retrieve(mine.id);
    assertSchema('Response', fetched);
    expect(fetched).toEqual(mine);

    await expect(other.responses.retrieve(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.responses.delete(mine.id)).rejects.toBeInstanceOf(NotFoundError);
    const continued = await post(
      { model: 'alias-echo', input: 'more', previous_response_id: mine.id },
      OTHER_KEY,
    );
    expect(continued.status).toBe(404);
    const body = (await continued.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('previous_response_id');
    expect(body.error.message).toContain(mine.id);
    // Still there for its owner.
    expect((await app.responses.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('DELETE removes one: GET and previous_response_id then answer 404', async () => {
    const made = await app.responses.create({ model: 'alias-echo', input: 'short lived' });
    const deleted = await fetch(`${setup.conduit.url}/v1/responses/${made.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${APP_KEY}` },
    });
    expect(await deleted.json()).toEqual({ id: made.id, object: 'response', deleted: true });
    await expect(app.responses.delete(made.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(app.responses.retrieve(made.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      app.responses.create({ model: 'alias-echo', input: 'x', previous_response_id: made.id }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('store: false answers without keeping it', async () => {
    const made = await app.responses.create({
      model: 'alias-echo',
      input: 'forget me',
      store: false,
    });
    expect((made as unknown as { store: boolean }).store).toBe(false);
    await expect(app.responses.retrieve(made.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a continued conversation carries every earlier turn, but not earlier instructions', async () => {
    const fake = setup.fakes.get('openai-compatible')!;
    fake.next({ text: 'first answer' }, { text: 'second answer' }, { text: 'third answer' });
    const one = await app.responses.create({
      model: 'alias-openai-compatible',
      instructions: 'OLD INSTRUCTIONS',
      input: 'first question',
    });
    const two = await app.responses.create({
      model: 'alias-openai-compatible',
      input: 'second question',
      previous_response_id: one.id,
    });
    await app.responses.create({
      model: 'alias-openai-compatible',
      instructions: 'NEW INSTRUCTIONS',
      input: 'third question',
      previous_response_id: two.id,
    });
    const sent = fake.upstream.calls.at(-1)!.json as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: 'system', content: 'NEW INSTRUCTIONS' },
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: 'second question' },
      { role: 'assistant', content: 'second answer' },
      { role: 'user', content: 'third question' },
    ]);
  });

  it('resolves item_reference input items from the client’s stored outputs', async () => {
    const fake = setup.fakes.get('openai-compatible')!;
    fake.next({ text: 'referenced answer' });
    const made = await app.responses.create({
      model: 'alias-openai-compatible',
      input: 'question one',
    });
    const itemId = made.output[0]!.id!;
    await app.responses.create({
      model: 'alias-openai-compatible',
      input: [
        { role: 'user', content: 'question one' },
        { type: 'item_reference', id: itemId },
        { role: 'user', content: [{ type: 'input_text', text: 'question two' }] },
      ],
    });
    const sent = fake.upstream.calls.at(-1)!.json as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: 'user', content: 'question one' },
      { role: 'assistant', content: 'referenced answer' },
      { role: 'user', content: 'question two' },
    ]);

    const unknown = await post({
      model: 'alias-echo',
      input: [{ type: 'item_reference', id: 'msg_nothing-here' }],
    });
    expect(unknown.status).toBe(404);
    const foreign = await post(
      { model: 'alias-echo', input: [{ type: 'item_reference', id: itemId }] },
      OTHER_KEY,
    );
    expect(foreign.status).toBe(404);
  });

  it('serves nothing older than responses.retentionDays, and sweeps it in the background', async () => {
    // A Conduit of its own: its first stored response starts its first sweep.
    const fresh = await startConduit({
      providers: { echo: { type: 'echo', models: ['echo'] } },
      responses: { retentionDays: 2 },
    });
    const client = new OpenAI({ baseURL: `${fresh.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const store = fresh.conduit.services.usage.responses;
    const old = Date.now() - 3 * 86_400_000;
    const kept = Date.now() - 86_400_000;
    for (const [id, createdAt] of [
      ['resp_old', old],
      ['resp_recent', kept],
    ] as const) {
      await store.save({ id, clientId: 'anonymous', createdAt, history: [], response: { id } });
    }
    await expect(client.responses.retrieve('resp_old')).rejects.toBeInstanceOf(NotFoundError);
    expect(await client.responses.retrieve('resp_recent')).toEqual({ id: 'resp_recent' });
    expect(store.sweeping).toBeUndefined();
    await client.responses.create({ model: 'echo/echo', input: 'sweep now' });
    expect(await store.sweeping).toBe(1);
    expect(await store.delete('resp_old', 'anonymous')).toBe(false);
    expect(await store.delete('resp_recent', 'anonymous')).toBe(true);
  });
});

describe('POST /v1/responses errors', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['no model', { input: 'x' }, 'model'],
    ['no input', { model: 'alias-echo' }, 'input'],
    [
      'an unknown item type',
      { model: 'alias-echo', input: [{ type: 'web_search_call' }] },
      'input[0].type',
    ],
    [
      'a built-in tool',
      { model: 'alias-echo', input: 'x', tools: [{ type: 'web_search' }] },
      'tools[0].type',
    ],
    [
      'JSON output',
      { model: 'alias-echo', input: 'x', text: { format: { type: 'grammar' } } },
      'text.format.type',
    ],
    [
      'a file part',
      {
        model: 'alias-echo',
        input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }],
      },
      'input[0].content[0].type',
    ],
    ['a wrong temperature', { model: 'alias-echo', input: 'x', temperature: 9 }, 'temperature'],
  ];
  it.each(cases)('answers 400 naming the parameter for %s', async (_, body, param) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    const error = (await response.json()) as { error: { param: string; message: string } };
    assertSchema('ErrorResponse', error);
    expect(error.error.param).toBe(param);
  });

  it('refuses a wrong method with 405 and an unauthenticated call with 401', async () => {
    const get = await fetch(`${setup.conduit.url}/v1/responses`, {
      headers: { authorization: `Bearer ${APP_KEY}` },
    });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const put = await fetch(`${setup.conduit.url}/v1/responses/resp_x`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${APP_KEY}` },
    });
    expect(put.status).toBe(405);
    const anonymous = await post({ model: 'alias-echo', input: 'x' }, 'wrong-key');
    expect(anonymous.status).toBe(401);
  });
});
