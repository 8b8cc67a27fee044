import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient as createSseClient } from 'graphql-sse';
import { beforeAll, describe, expect, it } from 'vitest';
import { createGraphQLHttp } from '../../src/graphql/transport/http.js';
import { createConduitYoga, directPathOf, type ConduitYoga } from '../../src/graphql/yoga.js';
import { createCors } from '../../src/http/cors.js';
import { collect, wsClient } from '../helpers/clients.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const KEY = 'ck-fast-path-app';
const auth = { authorization: `Bearer ${KEY}` };
const COMPLETE = `mutation ($input: CompletionInput!) {
  complete(input: $input) { provider model content finishReason usage { totalTokens } }
}`;
const DEEP = '{ __schema { types { fields { type { ofType { ofType { name } } } } } } }';
/** Refused by armor's rules, which throw (their onReject), and by the completion cap. */
const FAN_OUT = Array.from(
  { length: 25 },
  (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
)
  .join(' ')
  .concat(' { ...F0 } fragment F25 on Query { __typename }');
const ALIASES = Array.from({ length: 16 }, (_, i) => `a${i}: viewer { id }`).join(' ');
const COMPLETIONS = Array.from(
  { length: 5 },
  (_, i) => `c${i}: complete(input: { model: "echo/echo", messages: [] }) { content }`,
).join(' ');
const say = (content: string, model = 'echo/echo') => ({
  input: { model, messages: [{ role: 'USER', content }] },
});
const STREAM = `subscription ($input: CompletionInput!) { completionStream(input: $input) { delta done } }`;
/** A selection the chunk plans leave to graphql-js (`transport/chunks.ts`). */
const UNPLANNED = `subscription ($input: CompletionInput!) {
  completionStream(input: $input) { delta done usage { totalTokens } }
}`;

interface Answer {
  status: number;
  type: string | null;
  body: string;
  headers: Headers;
}

const read = async (response: Response): Promise<Answer> => ({
  status: response.status,
  type: response.headers.get('content-type'),
  body: await response.text(),
  headers: response.headers,
});

describe('the GraphQL fast path', () => {
  let gw: TestConduit;
  let yoga: ConduitYoga;
  /** A server with the fast path over a Yoga whose handler and fetch are counted. */
  let counted: string;
  const yogaCalls = { handler: 0, fetch: 0 };
  /** The envelop's parse and validate, as the transport calls them. */
  const checks = { parse: 0, validate: 0 };
  /** A server over `yoga` itself (its direct path), and the envelops made on it. */
  let direct: string;
  let envelopes = 0;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
      server: { graphql: { maxDepth: 4 }, cors: { origins: ['https://app.example'] } },
    });
    yoga = createConduitYoga(() => gw.conduit.services);
    const watched = new Proxy(yoga, {
      apply(target, self, args) {
        yogaCalls.handler++;
        return Reflect.apply(target, self, args);
      },
      get(target, property, receiver) {
        if (property === 'getEnveloped') {
          return (...args: Parameters<ConduitYoga['getEnveloped']>) => {
            const enveloped = target.getEnveloped(...args);
            return {
              ...enveloped,
              parse: (...a: Parameters<typeof enveloped.parse>) => {
                checks.parse++;
                return enveloped.parse(...a);
              },
              validate: (...a: Parameters<typeof enveloped.validate>) => {
                checks.validate++;
                return enveloped.validate(...a);
              },
            };
          };
        }
        if (property !== 'fetch') return Reflect.get(target, property, receiver);
        return (...args: Parameters<ConduitYoga['fetch']>) => {
          yogaCalls.fetch++;
          return (target.fetch as (...a: unknown[]) => unknown)(...args);
        };
      },
    });
    const { maxBodyBytes, cors } = gw.conduit.services.config.server;
    const handle = createGraphQLHttp(watched, { maxBodyBytes, cors: createCors(cors.origins) });
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void handle(req, res);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    onDispose(() => new Promise((resolve) => server.close(resolve)));
    counted = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;

    const getEnveloped = yoga.getEnveloped;
    // Counted on the instance itself: its direct path is registered for this object.
    (yoga as { getEnveloped: ConduitYoga['getEnveloped'] }).getEnveloped = ((...args) => {
      envelopes++;
      return getEnveloped(...args);
    }) as ConduitYoga['getEnveloped'];
    const own = createGraphQLHttp(yoga, { maxBodyBytes, cors: createCors(cors.origins) });
    const ownServer = createServer((req: IncomingMessage, res: ServerResponse) => {
      void own(req, res);
    });
    ownServer.listen(0, '127.0.0.1');
    await once(ownServer, 'listening');
    onDispose(() => new Promise((resolve) => ownServer.close(resolve)));
    direct = `http://127.0.0.1:${(ownServer.address() as AddressInfo).port}/graphql`;
  });

  /** The same request to Conduit (fast path) and to Yoga's own handler. */
  async function both(init: RequestInit, path = '/graphql'): Promise<[Answer, Answer]> {
    // Each its own copy: a Request may add to the headers object it is given.
    const copy = () => ({ ...init, headers: { ...(init.headers as Record<string, string>) } });
    const fast = await read(await fetch(`${gw.url}${path}`, copy()));
    const own = await read(await yoga.fetch(`http://localhost${path}`, copy(), {}));
    return [fast, own];
  }
  const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  it('answers a plain JSON mutation itself, without Yoga’s handler', async () => {
    yogaCalls.handler = yogaCalls.fetch = 0;
    const response = await fetch(counted, post({ query: COMPLETE, variables: say('fast hello') }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({
      data: {
        complete: {
          provider: 'echo',
          model: 'echo',
          content: 'fast hello',
          finishReason: 'STOP',
          usage: { totalTokens: expect.any(Number) },
        },
      },
    });
    expect(yogaCalls).toEqual({ handler: 0, fetch: 0 });
  });

  it('checks each distinct document once, and a refused one every time', async () => {
    const query = '{ viewer { id } } # checked once';
    checks.parse = checks.validate = 0;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(counted, post({ query }));
      expect(await response.json()).toEqual({ data: { viewer: { id: 'app' } } });
    }
    expect(checks).toEqual({ parse: 1, validate: 1 });
    checks.parse = checks.validate = 0;
    for (let i = 0; i < 2; i++) {
      const response = await fetch(counted, post({ query: '{ viewer { nope } } # refused' }));
      expect(response.status).toBe(200);
      expect((await response.json()).errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    }
    expect(checks).toEqual({ parse: 2, validate: 2 });
  });

  it('checks a key once: a refused key is answered without Yoga running the request again', async () => {
    for (const headers of [{ authorization: 'Bearer nope' }, { authorization: '' }]) {
      yogaCalls.handler = yogaCalls.fetch = 0;
      const response = await fetch(counted, post({ query: '{ viewer { id } }' }, headers));
      expect(response.status).toBe(401);
      expect((await response.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(yogaCalls).toEqual({ handler: 0, fetch: 0 });
    }
  });

  it('answers exactly as Yoga does: status, content type and body', async () => {
    const cases: [string, RequestInit][] = [
      ['a query', post({ query: '{ viewer { id admin } }' })],
      ['a mutation', post({ query: COMPLETE, variables: say('same answer') })],
      ['an unknown model', post({ query: COMPLETE, variables: say('x', 'nobody/none') })],
      ['a wrong variable', post({ query: COMPLETE, variables: { input: { model: 1 } } })],
      ['a parse error', post({ query: '{ viewer { id ' })],
      ['a validation error', post({ query: '{ viewer { nope } }' })],
      ['too deep', post({ query: DEEP })],
      ['a fan-out of fragment spreads', post({ query: FAN_OUT })],
      ['too many aliases', post({ query: `{ ${ALIASES} }` })],
      ['too many tokens', post({ query: `{ ${'__typename '.repeat(5001)}}` })],
      ['too many completions', post({ query: `mutation { ${COMPLETIONS} }` })],
      [
        'a named operation',
        post({ query: 'query A { viewer { id } } query B { __typename }', operationName: 'B' }),
      ],
      [
        'a missing operationName',
        post({ query: 'query A { viewer { id } } query B { __typename }' }),
      ],
      ['bad JSON', post('{"query":')],
      ['a batch', post([{ query: '{ __typename }' }])],
      ['an unknown parameter', post({ query: '{ __typename }', extra: 1 })],
      ['no query', post({ variables: {} })],
      ['variables not an object', post({ query: '{ __typename }', variables: '[]' })],
      ['a subscription over JSON', post({ query: STREAM, variables: say('x') })],
      [
        'no key',
        {
          ...post({ query: '{ viewer { id } }' }),
          headers: { 'content-type': 'application/json' },
        },
      ],
      ['a wrong key', post({ query: '{ viewer { id } }' }, { authorization: 'Bearer nope' })],
    ];
    for (const accept of [undefined, 'application/graphql-response+json']) {
      for (const [name, init] of cases) {
        const withAccept = accept
          ? { ...init, headers: { ...(init.headers as Record<string, string>), accept } }
          : init;
        const [fast, own] = await both(withAccept);
        expect({ name, accept, status: fast.status, type: fast.type, body: fast.body }).toEqual({
          name,
          accept,
          status: own.status,
          type: own.type,
          body: own.body,
        });
      }
    }
  });

  it('gives the status codes and codes of the spec: 401, 400, 200 with errors', async () => {
    const strict = { accept: 'application/graphql-response+json' };
    const noKey = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(noKey.status).toBe(401);
    expect((await noKey.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');

    const invalid = await fetch(gw.graphqlUrl, post({ query: '{ viewer { nope } }' }, strict));
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');

    const deep = await fetch(gw.graphqlUrl, post({ query: DEEP }));
    const deepError = (await deep.json()).errors[0];
    expect(deepError.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(deepError.message).toMatch(/depth limit of 4 exceeded.*server\.graphql\.maxDepth/);

    const failed = await fetch(
      gw.graphqlUrl,
      post({ query: COMPLETE, variables: say('x', 'nobody/none') }),
    );
    expect(failed.status).toBe(200);
    const body = await failed.json();
    expect(body.data).toBeNull();
    expect(body.errors[0].extensions.code).toMatch(/^[A-Z_]+$/);
    expect(body.errors[0].extensions.http).toBeUndefined();
  });

  it('sends the CORS headers Yoga sends, to an allowed origin only', async () => {
    const names = [
      'access-control-allow-origin',
      'access-control-allow-credentials',
      'access-control-allow-methods',
      'access-control-allow-headers',
      'access-control-expose-headers',
      'vary',
    ];
    for (const origin of ['https://app.example', 'https://evil.example']) {
      const [fast, own] = await both(post({ query: '{ __typename }' }, { origin }));
      for (const name of names)
        expect([origin, name, fast.headers.get(name)]).toEqual([
          origin,
          name,
          own.headers.get(name),
        ]);
    }
    const [allowed] = await both(
      post({ query: '{ __typename }' }, { origin: 'https://app.example' }),
    );
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });

  it('streams an SSE subscription itself, frame for frame as Yoga does', async () => {
    const sse = { accept: 'text/event-stream' };
    const cases: [string, RequestInit, number][] = [
      ['a subscription', post({ query: STREAM, variables: say('one two three') }, sse), 0],
      [
        'a subscription that fails before it begins',
        post({ query: STREAM, variables: say('x', 'nobody/none') }, sse),
        0,
      ],
      [
        'a subscription with a wrong variable',
        post({ query: STREAM, variables: { input: { model: 1 } } }, sse),
        0,
      ],
      [
        'a subscription with a misspelt input field (no suggestion in the message)',
        post({ query: STREAM, variables: { input: { model: 'echo/echo', mesages: [] } } }, sse),
        0,
      ],
      [
        'a subscription without a chunk plan (through envelop)',
        post({ query: UNPLANNED, variables: say('four five') }, sse),
        0,
      ],
      ['a query asked as SSE (Yoga answers)', post({ query: '{ viewer { id } }' }, sse), 1],
      [
        'a subscription with a wrong key (refused here, not run again by Yoga)',
        post({ query: STREAM }, { ...sse, authorization: 'Bearer nope' }),
        0,
      ],
    ];
    // Each call its own copy: a Request may add to the headers object it is given.
    const copy = (init: RequestInit) => ({
      ...init,
      headers: { ...(init.headers as Record<string, string>) },
    });
    for (const [name, init, handled] of cases) {
      yogaCalls.handler = yogaCalls.fetch = 0;
      const fast = await read(await fetch(counted, copy(init)));
      expect([name, yogaCalls.handler + yogaCalls.fetch]).toEqual([name, handled]);
      const own = await read(await yoga.fetch('http://localhost/graphql', copy(init), {}));
      expect([name, fast.status, fast.type, fast.body]).toEqual([
        name,
        own.status,
        own.type,
        own.body,
      ]);
      // Without envelop where the document allows (the counted Yoga above has no direct path).
      const unenveloped = await read(await fetch(direct, copy(init)));
      expect([name, unenveloped.status, unenveloped.type, unenveloped.body]).toEqual([
        name,
        own.status,
        own.type,
        own.body,
      ]);
      for (const header of ['cache-control', 'connection', 'content-encoding'])
        expect([name, header, fast.headers.get(header)]).toEqual([
          name,
          header,
          own.headers.get(header),
        ]);
    }
    const text = (await read(await fetch(counted, copy(cases[0]![1])))).body;
    expect(
      text.startsWith(':\n\nevent: next\ndata: {"data":{"completionStream":{"delta":"one"'),
    ).toBe(true);
    expect(text.endsWith('event: complete\ndata:\n\n')).toBe(true);
  });

  it('runs operations without envelop while no plugin hooks a result without errors', () => {
    // A plugin with a context, execute or subscribe hook of its own turns this off (yoga.ts):
    // list it there if its hooks only touch errors, or accept the slower path.
    expect(directPathOf(yoga)).toBeDefined();
  });

  it('runs a known subscription without envelop', async () => {
    const init = post(
      { query: STREAM, variables: say('six seven') },
      { accept: 'text/event-stream' },
    );
    await read(await fetch(direct, init));
    envelopes = 0;
    const answer = await read(await fetch(direct, init));
    expect(answer.body).toContain('"delta":" seven"');
    expect(envelopes).toBe(0);
  });

  it('leaves GET and GraphiQL to Yoga; subscriptions work over SSE and WebSocket', async () => {
    yogaCalls.handler = 0;
    const get = await fetch(`${counted}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: auth,
    });
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    const mutationByGet = await fetch(
      `${counted}?query=${encodeURIComponent('mutation { invalidateCache }')}`,
      { headers: auth },
    );
    expect(mutationByGet.status).toBe(405);
    const graphiql = await fetch(counted, { headers: { accept: 'text/html' } });
    expect(await graphiql.text()).toContain('<title>Conduit</title>');
    expect(yogaCalls.handler).toBe(3);

    const sse = createSseClient({ url: gw.graphqlUrl, headers: auth, retryAttempts: 0 });
    onDispose(() => sse.dispose());
    const overSse = await collect(sse.iterate({ query: STREAM, variables: say('over sse') }));
    expect(overSse.map((r) => (r.data as any).completionStream.delta).join('')).toBe('over sse');

    const ws = wsClient(gw.wsUrl, `Bearer ${KEY}`);
    const overWs = await collect(ws.iterate({ query: STREAM, variables: say('over ws') }));
    expect(overWs.map((r) => (r.data as any).completionStream.delta).join('')).toBe('over ws');
    expect(overWs.at(-1)!.data).toMatchObject({ completionStream: { done: true } });
  });
});
