import { createHash } from 'node:crypto';
import { createClient as createSseClient } from 'graphql-sse';
import { beforeAll, describe, expect, it } from 'vitest';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { collect, wsClient } from '../helpers/clients.js';
import { onDispose } from '../helpers/dispose.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      id
      provider
      model
      content
      finishReason
      cached
      costUsd
      latencyMs
      toolCalls {
        id
      }
      usage {
        promptTokens
        completionTokens
        totalTokens
        cachedPromptTokens
        estimated
      }
      attempts {
        provider
        model
        status
        error
      }
    }
  }
`;
const STREAM = /* GraphQL */ `
  subscription ($input: CompletionInput!) {
    completionStream(input: $input) {
      id
      delta
      provider
      model
      cached
      done
      finishReason
      usage {
        totalTokens
      }
      costUsd
    }
  }
`;

const say = (content: string, extra: Record<string, unknown> = {}) => ({
  input: { model: 'echo/echo', messages: [{ role: 'USER', content }], ...extra },
});

describe('open gateway (no clients)', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' }, slow: { type: 'echo', delayMs: 5 } },
    });
  });

  it('answers complete over HTTP with the echo provider', async () => {
    const { status, body } = await gql(gw.graphqlUrl, COMPLETE, say('hello there'));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const c = body.data.complete;
    expect(c).toMatchObject({
      provider: 'echo',
      model: 'echo',
      content: 'hello there',
      finishReason: 'STOP',
      cached: false,
      toolCalls: [],
      attempts: [{ provider: 'echo', model: 'echo', status: 'ok', error: null }],
    });
    expect(c.usage.completionTokens).toBe(2);
    expect(c.usage.totalTokens).toBe(c.usage.promptTokens + 2);
    expect(c.usage.estimated).toBe(false);
    const again = await gql(gw.graphqlUrl, COMPLETE, say('hello there'));
    expect(again.body.data.complete.id).not.toBe(c.id);
  });

  it('honours maxTokens and stop', async () => {
    const cut = await gql(
      gw.graphqlUrl,
      COMPLETE,
      say('one two three four five', { maxTokens: 2 }),
    );
    expect(cut.body.data.complete).toMatchObject({ content: 'one two', finishReason: 'LENGTH' });
    const stopped = await gql(
      gw.graphqlUrl,
      COMPLETE,
      say('alpha beta STOP gamma', { stop: ['STOP'] }),
    );
    expect(stopped.body.data.complete).toMatchObject({
      content: 'alpha beta ',
      finishReason: 'STOP',
    });
    const parse = await gql(gw.graphqlUrl, 'mutation { complete(');
    expect(parse.body.errors?.[0]?.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const invalid = await gql(gw.graphqlUrl, '{ nope }');
    expect(invalid.body.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('streams completionStream over graphql-ws', async () => {
    const client = wsClient(gw.wsUrl);
    const results = await collect(
      client.iterate({
        query: STREAM,
        variables: say('streams word by word', { model: 'slow/any' }),
      }),
    );
    const chunks = results.map((r) => (r.data as any).completionStream);
    expect(chunks.map((c) => c.delta).join('')).toBe('streams word by word');
    expect(chunks.length).toBe(5);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.slice(0, -1).every((c) => !c.done && c.finishReason === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({
      done: true,
      delta: '',
      finishReason: 'STOP',
      provider: 'slow',
      model: 'any',
    });
    expect(chunks.at(-1).usage.totalTokens).toBeGreaterThan(4);
  });

  it('streams completionStream over GraphQL-over-SSE', async () => {
    const client = createSseClient({ url: gw.graphqlUrl, retryAttempts: 0 });
    onDispose(() => client.dispose());
    const results = await collect(
      client.iterate({ query: STREAM, variables: say('over server sent events') }),
    );
    const chunks = results.map((r) => (r.data as any).completionStream);
    expect(chunks.map((c) => c.delta).join('')).toBe('over server sent events');
    expect(chunks.at(-1)).toMatchObject({ done: true, finishReason: 'STOP' });
  });

  it('gives each bad input its code and keeps serving', async () => {
    const cases: [string, Record<string, unknown>, string, string?][] = [
      [
        'empty messages',
        { input: { model: 'echo/echo', messages: [] } },
        'BAD_USER_INPUT',
        'messages',
      ],
      ['unknown model', say('x', { model: 'nope/gpt' }), 'BAD_USER_INPUT', 'model'],
      ['alias that does not exist', say('x', { model: 'fast' }), 'BAD_USER_INPUT', 'model'],
      ['negative maxTokens', say('x', { maxTokens: -5 }), 'BAD_USER_INPUT', 'maxTokens'],
      ['temperature out of range', say('x', { temperature: 7 }), 'BAD_USER_INPUT', 'temperature'],
      [
        'tool message without toolCallId',
        { input: { model: 'echo/echo', messages: [{ role: 'TOOL', content: '1' }] } },
        'BAD_USER_INPUT',
        'messages[0].toolCallId',
      ],
    ];
    for (const [name, variables, code, field] of cases) {
      const { body } = await gql(gw.graphqlUrl, COMPLETE, variables);
      expect(body.errors?.[0]?.extensions, name).toMatchObject({ code, ...(field && { field }) });
      expect(body.data, name).toBeNull();
    }
    const ok = await gql(gw.graphqlUrl, COMPLETE, say('still here'));
    expect(ok.body.data.complete.content).toBe('still here');
  });

  it('refuses a malformed JSON body, wrong variable types and a too-deep query with codes', async () => {
    const malformed = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: '{"query": "mutation {',
    });
    expect(malformed.status).toBe(400);
    const malformedBody = (await malformed.json()) as any;
    expect(malformedBody.errors[0].extensions.code).toBe('BAD_REQUEST');

    const wrongType = await gql(gw.graphqlUrl, COMPLETE, {
      input: { model: 'echo/echo', messages: [{ role: 'USER', content: 'x' }], maxTokens: 'ten' },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect(wrongType.body.errors?.[0]?.message).toMatch(/maxTokens/);

    const nested = `__schema { types { fields { type { ${'ofType { '.repeat(12)}name${' }'.repeat(12)} } } } }`;
    const deep = await gql(gw.graphqlUrl, `{ viewer { id } ${nested} }`);
    expect(deep.status).toBe(400);
    expect(deep.body.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(deep.body.errors?.[0]?.message).toMatch(/depth limit of 15 exceeded, found 17/);

    const ok = await gql(gw.graphqlUrl, COMPLETE, say('still serving'));
    expect(ok.body.data.complete.content).toBe('still serving');
  });

  it('answers healthz and metrics', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    // No config lists the model "echo" (echo answers any name): counted as other.
    expect(metrics).toMatch(
      /conduit_requests_total\{provider="echo",model="echo",status="ok"\} \d+/,
    );
  });

  it('serves GraphiQL with a ready example to a browser', async () => {
    const page = await fetch(gw.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('GraphiQL');
    expect(html).toContain('echo/echo');
  });

  it('lets anyone in as an admin viewer', async () => {
    const { body } = await gql(
      gw.graphqlUrl,
      '{ viewer { id admin } providers { name type keys availableKeys healthy } }',
    );
    expect(body.data.viewer).toEqual({ id: 'anonymous', admin: true });
    expect(body.data.providers).toContainEqual({
      name: 'echo',
      type: 'echo',
      keys: 0,
      availableKeys: 0,
      healthy: true,
    });
  });
});

describe('with clients', () => {
  let gw: TestConduit;
  const webKey = 'ck-web-0123456789';
  const adminKey = 'ck-admin-9876543210';
  beforeAll(async () => {
    gw = await startConduit(
      {
        providers: { echo: { type: 'echo' }, other: { type: 'echo' } },
        models: { fast: { targets: [{ provider: 'echo', model: 'quick' }] } },
        clients: [
          { id: 'web', key: '${WEB_KEY}', models: ['fast', 'echo/*'] },
          { id: 'ops', keySha256: createHashHex(adminKey), admin: true },
        ],
      },
      { WEB_KEY: webKey },
    );
  });

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  it('refuses HTTP calls without a key or with a wrong one', async () => {
    for (const headers of [{}, bearer('wrong-key'), { authorization: 'Bearer ' }]) {
      const { status, body } = await gql(gw.graphqlUrl, COMPLETE, say('hi'), headers);
      expect(status).toBe(401);
      expect(body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('lets a client in by key (plain or by its SHA-256) and tells it who it is', async () => {
    const web = await gql(
      gw.graphqlUrl,
      '{ viewer { id admin models } }',
      undefined,
      bearer(webKey),
    );
    expect(web.body.data.viewer).toEqual({ id: 'web', admin: false, models: ['fast', 'echo/*'] });
    const ops = await gql(gw.graphqlUrl, '{ viewer { id admin } }', undefined, bearer(adminKey));
    expect(ops.body.data.viewer).toEqual({ id: 'ops', admin: true });
  });

  it('enforces model allow-lists with FORBIDDEN', async () => {
    const allowed = await gql(
      gw.graphqlUrl,
      COMPLETE,
      say('hi', { model: 'fast' }),
      bearer(webKey),
    );
    expect(allowed.body.data.complete).toMatchObject({
      provider: 'echo',
      model: 'quick',
      content: 'hi',
    });
    const glob = await gql(
      gw.graphqlUrl,
      COMPLETE,
      say('hi', { model: 'echo/anything' }),
      bearer(webKey),
    );
    expect(glob.body.data.complete.content).toBe('hi');
    const forbidden = await gql(
      gw.graphqlUrl,
      COMPLETE,
      say('hi', { model: 'other/x' }),
      bearer(webKey),
    );
    expect(forbidden.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const admin = await gql(
      gw.graphqlUrl,
      COMPLETE,
      say('hi', { model: 'other/x' }),
      bearer(adminKey),
    );
    expect(admin.body.data.complete.provider).toBe('other');
  });

  it('keeps invalidateCache for admins', async () => {
    const web = await gql(gw.graphqlUrl, 'mutation { invalidateCache }', undefined, bearer(webKey));
    expect(web.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const ops = await gql(
      gw.graphqlUrl,
      'mutation { invalidateCache }',
      undefined,
      bearer(adminKey),
    );
    expect(ops.body.errors).toBeUndefined();
    expect(typeof ops.body.data.invalidateCache).toBe('number');
  });

  it('closes a WebSocket with 4401 when the key is missing or wrong', async () => {
    for (const authorization of [undefined, 'Bearer wrong-key']) {
      const client = wsClient(gw.wsUrl, authorization);
      const error = await collect(client.iterate({ query: STREAM, variables: say('hi') })).catch(
        (e: unknown) => e,
      );
      expect((error as { code?: number }).code).toBe(4401);
    }
  });

  it('streams over WebSocket with the key in connectionParams', async () => {
    const client = wsClient(gw.wsUrl, `Bearer ${webKey}`);
    const results = await collect(
      client.iterate({ query: STREAM, variables: say('with a key', { model: 'fast' }) }),
    );
    expect(results.map((r) => (r.data as any).completionStream.delta).join('')).toBe('with a key');
    const forbidden = await collect(
      client.iterate({ query: STREAM, variables: say('hi', { model: 'other/x' }) }),
    );
    expect(forbidden[0]?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('never shows a client key in an answer or a log line', async () => {
    await gql(gw.graphqlUrl, '{ viewer { id } providers { name } }', undefined, bearer(webKey));
    await gql(gw.graphqlUrl, COMPLETE, say('hi'), bearer('sk-not-a-client-key'));
    const everything = gw.logs.join('\n');
    expect(everything).not.toContain(webKey);
    expect(everything).not.toContain(adminKey);
    expect(everything).not.toContain('sk-not-a-client-key');
  });
});

function createHashHex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
