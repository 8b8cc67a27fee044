/**
 * The request log end to end, on SQLite and Postgres: real requests through Conduit (to the
 * echo provider and a fake OpenAI), then read back through `requests` and `request`: bodies,
 * attempts, cache status, cursor pages stable while rows are added, text search, redaction, the
 * size cap, a client's own override, and what a tenant may see.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { describeEachDatabase, type TestDatabase } from '../helpers/databases.js';

const ADMIN = 'ck-admin-request-log-0001';
const WEB = 'ck-web-request-log-0002';
const MOBILE = 'ck-mobile-request-log-0003';
const QUIET = 'ck-quiet-request-log-0004';
const UPSTREAM_KEY = 'upstream-secret-request-log-0005';
const EMAIL = /[\w.+-]+@[\w-]+\.[\w.]+/.source;

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      id
      content
      cached
    }
  }
`;
const ENTRY = 'id clientId user alias provider model status cacheStatus finishReason';
const REQUESTS = /* GraphQL */ `
  query ($filter: RequestLogFilter, $first: Int, $after: String) {
    requests(filter: $filter, first: $first, after: $after) {
      edges { cursor node { ${ENTRY} } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const REQUEST = /* GraphQL */ `
  query ($id: ID!) {
    request(id: $id) {
      ${ENTRY} route errorCode stream promptTokens completionTokens costUsd latencyMs
      prompt parameters answer truncated bodiesDropped
      toolCalls { id name arguments }
      attempts { provider model status errorKind error latencyMs }
    }
  }
`;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

await describeEachDatabase('the request log', (makeDatabase) => {
  let database: TestDatabase;
  let fake: ProviderFake;
  let gw: TestConduit;

  const ask = async (key: string, content: string, extra: Record<string, unknown> = {}) => {
    const { body } = await gql(
      gw.graphqlUrl,
      COMPLETE,
      {
        input: {
          model: 'echo/echo',
          messages: [{ role: 'USER', content }],
          cache: 'BYPASS',
          ...extra,
        },
      },
      bearer(key),
    );
    expect(body.errors).toBeUndefined();
    return body.data.complete as { id: string; content: string; cached: boolean };
  };
  const requests = async (key: string, variables: Record<string, unknown> = {}) =>
    (await gql(gw.graphqlUrl, REQUESTS, variables, bearer(key))).body;
  const request = async (key: string, id: string) =>
    (await gql(gw.graphqlUrl, REQUEST, { id }, bearer(key))).body;
  const ids = (body: { data?: any }) =>
    (body.data.requests.edges as { node: { id: string } }[]).map((edge) => edge.node.id);

  beforeAll(async () => {
    database = await makeDatabase();
    fake = await createOpenAIFake({ keys: [UPSTREAM_KEY] });
    gw = await startConduit({
      database: { url: database.url },
      providers: {
        up: { type: 'openai', baseUrl: fake.baseUrl, keys: [UPSTREAM_KEY] },
        echo: { type: 'echo', models: ['echo'] },
      },
      clients: [
        { id: 'ops', key: ADMIN, admin: true },
        { id: 'web', key: WEB },
        { id: 'mobile', key: MOBILE },
        { id: 'quiet', key: QUIET, requestLog: { enabled: false } },
      ],
      retry: { attempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
      requestLog: { enabled: true, redact: [EMAIL], maxBodyBytes: 2000 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await fake?.close();
    await database?.drop();
  });

  it('stores the prompt, parameters, answer, tool calls and every attempt', async () => {
    fake.next(
      { fail: 'server' },
      {
        toolCalls: [{ id: 'call_1', name: 'weather', arguments: '{"city":"Lyon"}' }],
        usage: { prompt: 30, completion: 7 },
      },
    );
    const { body } = await gql(
      gw.graphqlUrl,
      COMPLETE,
      {
        input: {
          model: 'up/gpt-4o-mini',
          messages: [{ role: 'USER', content: 'What is the weather in Lyon?' }],
          temperature: 0.25,
          tools: [{ name: 'weather', parameters: { type: 'object' } }],
          user: 'u-42',
          cache: 'BYPASS',
        },
      },
      bearer(WEB),
    );
    expect(body.errors).toBeUndefined();
    const id = body.data.complete.id as string;

    const entry = (await request(WEB, id)).data.request;
    expect(entry).toMatchObject({
      id,
      clientId: 'web',
      user: 'u-42',
      alias: 'up/gpt-4o-mini',
      provider: 'up',
      status: 'OK',
      cacheStatus: 'MISS',
      finishReason: 'TOOL_CALLS',
      route: 'graphql',
      stream: false,
      promptTokens: 30,
      completionTokens: 7,
      truncated: [],
      bodiesDropped: false,
      toolCalls: [{ id: 'call_1', name: 'weather', arguments: '{"city":"Lyon"}' }],
    });
    expect(JSON.parse(entry.prompt)).toEqual([
      { role: 'user', content: 'What is the weather in Lyon?' },
    ]);
    expect(JSON.parse(entry.parameters)).toMatchObject({
      temperature: 0.25,
      tools: [{ name: 'weather', parameters: { type: 'object' } }],
      user: 'u-42',
      stream: false,
    });
    expect(entry.attempts).toMatchObject([
      { provider: 'up', model: 'gpt-4o-mini', status: 'ERROR', errorKind: 'server' },
      { provider: 'up', model: 'gpt-4o-mini', status: 'OK', errorKind: null, error: null },
    ]);
    expect(entry.attempts[0].error).toEqual(expect.any(String));
  });

  it('records the cache status and filters by it, by model, by status and by user', async () => {
    const first = await ask(MOBILE, 'cache me please', { cache: 'DEFAULT', user: 'm-1' });
    const again = await ask(MOBILE, 'cache me please', { cache: 'DEFAULT', user: 'm-1' });
    expect(again.cached).toBe(true);
    const hits = await requests(ADMIN, { filter: { cacheStatus: 'EXACT', client: 'mobile' } });
    expect(ids(hits)).toEqual([again.id]);
    const misses = await requests(ADMIN, {
      filter: { cacheStatus: 'MISS', client: 'mobile', user: 'm-1', model: 'echo/echo' },
    });
    expect(ids(misses)).toEqual([first.id]);
    const failed = await requests(ADMIN, { filter: { status: 'ERROR' } });
    expect(ids(failed)).toEqual([]);
    const byProvider = await requests(ADMIN, { filter: { provider: 'up' } });
    expect(byProvider.data.requests.edges.map((e: any) => e.node.provider)).toEqual(['up']);
  });

  it('pages newest first, stable while rows are being added', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await ask(WEB, `page row ${i}`, { user: 'pager' })).id);
    const filter = { user: 'pager' };
    const first = await requests(WEB, { filter, first: 2 });
    expect(ids(first)).toEqual([made[4], made[3]]);
    expect(first.data.requests.pageInfo.hasNextPage).toBe(true);

    // Newer rows arrive between pages: the pages already begun neither repeat nor skip a row.
    const added: string[] = [];
    for (let i = 0; i < 3; i++) added.push((await ask(WEB, `late row ${i}`, { user: 'pager' })).id);
    const seen = [...ids(first)];
    let after = first.data.requests.pageInfo.endCursor as string;
    for (;;) {
      const page = await requests(WEB, { filter, first: 2, after });
      seen.push(...ids(page));
      if (!page.data.requests.pageInfo.hasNextPage) break;
      after = page.data.requests.pageInfo.endCursor;
    }
    expect(seen).toEqual([...made].reverse());
    const fresh = await requests(WEB, { filter, first: 3 });
    expect(ids(fresh)).toEqual([...added].reverse());

    const bad = await requests(WEB, { after: 'not-a-cursor' });
    expect(bad.errors?.[0].message).toMatch(/after is not a cursor/);
  });

  it('finds requests by words of the prompt or the answer', async () => {
    const zebra = await ask(WEB, 'the striped zebra grazes quietly');
    const okapi = await ask(WEB, 'an okapi is a relative of the giraffe');
    const both = await ask(WEB, 'zebra and okapi together');
    expect(ids(await requests(WEB, { filter: { text: 'zebra' } }))).toEqual([both.id, zebra.id]);
    expect(ids(await requests(WEB, { filter: { text: 'Okapi ZEBRA' } }))).toEqual([both.id]);
    expect(ids(await requests(WEB, { filter: { text: 'giraffe' } }))).toEqual([okapi.id]);
    expect(ids(await requests(WEB, { filter: { text: 'unicorn' } }))).toEqual([]);
    const empty = await requests(WEB, { filter: { text: '!!' } });
    expect(empty.errors?.[0].message).toMatch(/text has no words/);
  });

  it('stores no secret, no credential-shaped string, and no text of a redact pattern', async () => {
    const leaky =
      `mail alice.smith@example.org, key ${UPSTREAM_KEY}, ` +
      'token sk-proj-abcdefghijklmnopqrstuvwx and marmot';
    const { id } = await ask(WEB, leaky);
    const entry = (await request(WEB, id)).data.request;
    for (const text of [entry.prompt, entry.answer]) {
      expect(text).not.toContain('alice.smith');
      expect(text).not.toContain(UPSTREAM_KEY);
      expect(text).not.toContain('sk-proj-abcdefghijklmnopqrstuvwx');
      expect(text).toContain('[redacted]');
      expect(text).toContain('marmot');
    }
    // The search index holds the redacted words only.
    expect(ids(await requests(WEB, { filter: { text: 'marmot' } }))).toEqual([id]);
    expect(ids(await requests(WEB, { filter: { text: 'alice' } }))).toEqual([]);
  });

  it('cuts a body past maxBodyBytes and marks it truncated', async () => {
    const long = 'word '.repeat(1000);
    const { id } = await ask(WEB, long);
    const entry = (await request(WEB, id)).data.request;
    expect(entry.truncated).toEqual(['PROMPT', 'ANSWER']);
    expect(Buffer.byteLength(entry.prompt)).toBeLessThanOrEqual(2000);
    expect(Buffer.byteLength(entry.answer)).toBeLessThanOrEqual(2000);
    expect(entry.answer.startsWith('word word')).toBe(true);
  });

  it('logs nothing of a client that turned the log off', async () => {
    const { id } = await ask(QUIET, 'not for the log');
    expect((await request(ADMIN, id)).data.request).toBeNull();
    expect(ids(await requests(ADMIN, { filter: { client: 'quiet' } }))).toEqual([]);
  });

  it('shows a tenant its own requests only; an admin everyone’s', async () => {
    const mine = await ask(WEB, 'tenant web private');
    const theirs = await ask(MOBILE, 'tenant mobile private');
    expect(ids(await requests(WEB, { filter: { text: 'tenant private' } }))).toEqual([mine.id]);
    expect(ids(await requests(MOBILE, { filter: { text: 'tenant private' } }))).toEqual([
      theirs.id,
    ]);
    expect(ids(await requests(ADMIN, { filter: { text: 'tenant private' } }))).toEqual([
      theirs.id,
      mine.id,
    ]);
    expect((await request(WEB, theirs.id)).data.request).toBeNull();
    expect((await request(ADMIN, theirs.id)).data.request.clientId).toBe('mobile');
    const forbidden = await requests(WEB, { filter: { client: 'mobile' } });
    expect(forbidden.errors?.[0].extensions.code).toBe('FORBIDDEN');
    const every = await requests(WEB, { first: 500 });
    expect(new Set(every.data.requests.edges.map((edge: any) => edge.node.clientId))).toEqual(
      new Set(['web']),
    );
  });
});
