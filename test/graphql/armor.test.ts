/**
 * Limits on a GraphQL document (graphql-armor's and the completion cap), end to end through real
 * sockets: hostile documents sent with no key are refused at validation, before auth, in
 * milliseconds, while `/healthz` keeps answering; GraphiQL's introspection query passes; five
 * completions in one operation make no upstream call; suggestions stay out of messages in
 * production; a refusal is a 400 on the fast path, on Yoga's handler, and an error message on
 * a WebSocket.
 */
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { getIntrospectionQuery } from 'graphql';
import type { Client } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { wsClient } from '../helpers/clients.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { runCli } from '../helpers/process.js';

const KEY = 'ck-armor-app';
const auth = { authorization: `Bearer ${KEY}` };
const strict = { accept: 'application/graphql-response+json' };

/**
 * About 900 bytes: each fragment spreads the next twice, 25 levels down, so 2^25 paths lead to
 * the last one (a walk of every path took 5.6 s).
 */
function fanOut(levels = 25): string {
  let document = '{...F0}';
  for (let i = 0; i < levels; i++) document += `fragment F${i} on Query{...F${i + 1} ...F${i + 1}}`;
  return `${document}fragment F${levels} on Query{__typename}`;
}

/** `count` aliased `__schema` fields; by default each selects about 100 bytes of introspection. */
function aliasFlood(
  count: number,
  selection = `__schema{types{name kind description fields{name description args{name} type{name kind ofType{name}}}}}`,
): string {
  const fields = Array.from({ length: count }, (_, i) => `a${i}:${selection}`);
  return `{${fields.join(' ')}}`;
}

const introspection = {
  plain: getIntrospectionQuery(),
  // What GraphiQL asks with every option on (Yoga's GraphiQL 4 asks a subset of these).
  everything: getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  }),
};

interface Answer {
  status: number;
  body: { data?: any; errors?: any[] };
  ms: number;
}

async function timed(response: Promise<Response>): Promise<Answer> {
  const start = performance.now();
  const answer = await response;
  const body = (await answer.json()) as Answer['body'];
  return { status: answer.status, body, ms: performance.now() - start };
}

const post = (url: string, query: string, headers: Record<string, string> = {}) =>
  timed(
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...strict, ...headers },
      body: JSON.stringify({ query }),
    }),
  );

const get = (url: string, query: string, headers: Record<string, string> = {}) =>
  timed(fetch(`${url}?query=${encodeURIComponent(query)}`, { headers: { ...strict, ...headers } }));

/** A request the attacker sends: a POST of `body` as JSON, or a GET. */
interface Sent {
  url: string;
  body?: string;
}

/**
 * Sends requests one after another from a worker thread, so that building and sending 200 KB
 * bodies does not run on the event loop that the server and the `/healthz` poller share.
 */
const attacker = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', async (requests) => {
  const answers = [];
  for (const { url, body } of requests) {
    const headers = { accept: 'application/graphql-response+json', 'content-type': 'application/json' };
    const start = performance.now();
    const response = await fetch(url, body === undefined ? { headers } : { method: 'POST', headers, body });
    answers.push({ status: response.status, body: await response.json(), ms: performance.now() - start });
  }
  parentPort.postMessage(answers);
});
`;

function startAttacker(): (requests: Sent[]) => Promise<Answer[]> {
  const worker = new Worker(attacker, { eval: true });
  onDispose(() => worker.terminate());
  return async (requests) => {
    worker.postMessage(requests);
    const [answers] = (await once(worker, 'message')) as [Answer[]];
    return answers;
  };
}

/** Polls `/healthz` one request after another until `work` settles; every poll's time. */
async function pollHealthWhile<T>(url: string, work: Promise<T>): Promise<[T, number[]]> {
  const polls: number[] = [];
  let done = false;
  const polling = (async () => {
    do {
      const start = performance.now();
      const response = await fetch(`${url}/healthz`);
      await response.text();
      expect(response.status).toBe(200);
      polls.push(performance.now() - start);
    } while (!done);
  })();
  try {
    return [await work, polls];
  } finally {
    done = true;
    await polling;
  }
}

/** One operation over a WebSocket: its results, or the error that ended it. */
function overSocket(client: Client, query: string): Promise<{ results: any[]; error?: any }> {
  return new Promise((resolve) => {
    const results: any[] = [];
    client.subscribe(
      { query },
      {
        next: (value) => results.push(value),
        error: (error) => resolve({ results, error }),
        complete: () => resolve({ results }),
      },
    );
  });
}

describe('document limits', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  it("refuses a fan-out of fragments and an alias flood sent with no key, while /healthz answers in under 50 ms (plus the machine's own noise)", async () => {
    const fan = fanOut();
    expect(fan.length).toBeGreaterThan(850);
    expect(fan.length).toBeLessThan(1000);
    const flood = aliasFlood(2000);
    expect(flood.length).toBeGreaterThan(195_000);
    // A URL holds less: Node refuses request heads over 16 KB before Conduit sees them.
    const getFlood = aliasFlood(200, '__schema{__typename}');
    expect(encodeURIComponent(getFlood).length).toBeLessThan(15_000);

    // Warm the code paths (first calls compile), with documents other than the ones timed.
    const send = startAttacker();
    await send([
      { url: gw.graphqlUrl, body: JSON.stringify({ query: fanOut(20) }) },
      { url: `${gw.graphqlUrl}?query=${encodeURIComponent(fanOut(20))}` },
      { url: gw.graphqlUrl, body: JSON.stringify({ query: aliasFlood(1000) }) },
      {
        url: `${gw.graphqlUrl}?query=${encodeURIComponent(aliasFlood(100, '__schema{__typename}'))}`,
      },
    ]);
    await post(gw.graphqlUrl, '{ __typename }', auth);

    /** Each document once, POST and GET, one after another. */
    function attack(documents: [fan: string, flood: string, getFlood: string]): Promise<Answer[]> {
      const query = (document: string) => `${gw.graphqlUrl}?query=${encodeURIComponent(document)}`;
      return send([
        { url: gw.graphqlUrl, body: JSON.stringify({ query: documents[0] }) },
        { url: query(documents[0]) },
        { url: gw.graphqlUrl, body: JSON.stringify({ query: documents[1] }) },
        { url: query(documents[2]) },
      ]);
    }
    /** A harmless document of the same size: `{__typename}` and spaces. */
    const harmless = (document: string) => `{__typename}${' '.repeat(document.length - 12)}`;

    // Other work on the machine running the tests can make a poll wait for a CPU whatever the
    // server does (on a shared, loaded 2-core machine, polls of an idle Conduit took up to
    // 170 ms). So each try first sends harmless documents of the same sizes (no key: a 401
    // after validation), and allows the slowest poll seen then, up to 200 ms, on top of 50 ms:
    // on a quiet machine the bound is about 50 ms. Up to ten tries, each with new documents (no
    // cache helps); one must keep within its bound. Walking every path kept the server busy
    // for seconds on every try.
    const tries: { slowest: number; allowed: number; refused: number; refusedAllowed: number }[] =
      [];
    for (let attempt = 1; attempt <= 10; attempt++) {
      const salt = ' '.repeat(attempt);
      const documents = [fan + salt, flood + salt, getFlood + salt] as const;
      const [controls, quiet] = await pollHealthWhile(
        gw.url,
        attack(documents.map(harmless) as [string, string, string]),
      );
      for (const answer of controls) expect(answer.status).toBe(401);
      const [answers, polls] = await pollHealthWhile(gw.url, attack([...documents]));
      const [fanPost, fanGet, flooded, aliased] = answers.map((answer) => {
        // Refused at validation, before the missing key is noticed: a 400, not a 401.
        expect(answer.status).toBe(400);
        expect(answer.body.data).toBeUndefined();
        expect(answer.body.errors).toHaveLength(1);
        return answer.body.errors![0];
      });
      for (const error of [fanPost, fanGet]) {
        expect(error.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(error.message).toMatch(
          /^Query Cost limit of 20000 exceeded, found \d+.*\(server\.graphql\.maxCost\)\.$/,
        );
      }
      expect(flooded.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
      expect(flooded.message).toBe('Token limit of 5000 exceeded (server.graphql.maxTokens).');
      expect(aliased.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(aliased.message).toBe(
        'Aliases limit of 15 exceeded, found 200 (server.graphql.maxAliases).',
      );
      expect(polls.length).toBeGreaterThan(0);
      const slowest = Math.round(Math.max(...polls));
      const allowed = 50 + Math.min(200, Math.round(Math.max(...quiet)));
      // The refusals themselves take milliseconds (walking the paths took seconds): within a
      // second of the harmless documents' answers, judged with the polls in the same try.
      const refused = Math.round(Math.max(...answers.map((answer) => answer.ms)));
      const refusedAllowed = 1000 + Math.round(Math.max(...controls.map((answer) => answer.ms)));
      tries.push({ slowest, allowed, refused, refusedAllowed });
      if (slowest < allowed && refused < refusedAllowed) break;
    }
    const kept = tries.filter(
      ({ slowest, allowed, refused, refusedAllowed }) =>
        slowest < allowed && refused < refusedAllowed,
    );
    expect(kept, `slowest poll / bound of each try (ms): ${JSON.stringify(tries)}`).not.toEqual([]);
  });

  it("lets GraphiQL's introspection query through for a client with a key", async () => {
    for (const query of Object.values(introspection)) {
      const posted = await post(gw.graphqlUrl, query, auth);
      expect(posted.body.errors).toBeUndefined();
      expect(posted.status).toBe(200);
      expect(posted.body.data.__schema.queryType.name).toBe('Query');
      expect(posted.body.data.__schema.types.length).toBeGreaterThan(10);
      const got = await get(gw.graphqlUrl, query, auth);
      expect(got.status).toBe(200);
      expect(got.body.data.__schema.types).toEqual(posted.body.data.__schema.types);
    }
  });

  it('refuses an introspection nested deeper than GraphiQL asks, and directives past the limit', async () => {
    // GraphiQL's deepest path is 15 levels: __schema types fields args type, then 9 ofType and name.
    const ofTypes = (n: number) => `${'ofType { '.repeat(n)}name${' }'.repeat(n)}`;
    const at15 = `{ __schema { types { fields { args { type { ${ofTypes(9)} } } } } } }`;
    expect((await post(gw.graphqlUrl, at15, auth)).status).toBe(200);
    const at16 = `{ __schema { types { fields { args { type { ${ofTypes(10)} } } } } } }`;
    const deep = await post(gw.graphqlUrl, at16, auth);
    expect(deep.status).toBe(400);
    expect(deep.body.errors![0].message).toBe(
      'Query depth limit of 15 exceeded, found 16 (server.graphql.maxDepth).',
    );

    const directives = `{ ${Array.from({ length: 51 }, () => '__typename @include(if: true)').join(' ')} }`;
    const many = await post(gw.graphqlUrl, directives);
    expect(many.status).toBe(400);
    expect(many.body.errors![0].message).toBe(
      'Directives limit of 50 exceeded, found 51 (server.graphql.maxDirectives).',
    );
  });

  it('answers a refused document on a WebSocket with an error message, and the socket serves on', async () => {
    const client = wsClient(gw.wsUrl, `Bearer ${KEY}`);
    const fan = await overSocket(client, fanOut());
    expect(fan.results).toEqual([]);
    expect(fan.error).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^Query Cost limit of 20000 exceeded.*maxCost/),
      }),
    ]);
    const aliases = await overSocket(client, aliasFlood(16, '__schema{__typename}'));
    expect(aliases.error[0].message).toBe(
      'Aliases limit of 15 exceeded, found 16 (server.graphql.maxAliases).',
    );
    const tokens = await overSocket(client, aliasFlood(2000));
    expect(tokens.error[0].message).toBe(
      'Token limit of 5000 exceeded (server.graphql.maxTokens).',
    );
    const fine = await overSocket(client, '{ viewer { id } }');
    expect(fine).toEqual({ results: [{ data: { viewer: { id: 'app' } } }] });
  });
});

describe('completions per operation', () => {
  let gw: TestConduit;
  let fake: ProviderFake;

  beforeAll(async () => {
    fake = await createOpenAIFake({ keys: ['sk-armor-upstream'] });
    onDispose(() => fake.close());
    gw = await startConduit({
      providers: {
        openai: { type: 'openai', baseUrl: fake.baseUrl, keys: ['sk-armor-upstream'] },
      },
      clients: [{ id: 'app', key: KEY, admin: true }],
    });
  });

  /** An aliased `complete` of a fresh question (no answer cache). */
  const complete = (alias: string) =>
    `${alias}: complete(input: { model: "openai/gpt-4o-mini", messages: [{ role: USER, content: "${alias} ${Math.random()}" }] }) { content }`;
  const aliases = (n: number) => Array.from({ length: n }, (_, i) => complete(`c${i}`)).join(' ');

  it('refuses five completions in one mutation before any upstream call, and runs four', async () => {
    const five = await post(gw.graphqlUrl, `mutation { ${aliases(5)} }`, auth);
    expect(five.status).toBe(400);
    expect(five.body.data).toBeUndefined();
    expect(five.body.errors).toEqual([
      expect.objectContaining({
        message:
          'the operation asks for 5 completions (complete or completionStream); at most 4 are ' +
          'allowed (server.graphql.maxCompletionsPerOperation)',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      }),
    ]);
    expect(fake.upstream.calls).toHaveLength(0);

    const four = await post(gw.graphqlUrl, `mutation { ${aliases(4)} }`, auth);
    expect(four.status).toBe(200);
    expect(Object.keys(four.body.data)).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(fake.upstream.calls).toHaveLength(4);
  });

  it('counts completions through fragments as execution does, without walking a fan-out', async () => {
    const before = fake.upstream.calls.length;
    // Five behind fragments and an inline fragment, spread over and over.
    const hidden =
      `mutation { ...A ...A ... on Mutation { ...B } }` +
      `fragment A on Mutation { ${complete('a')} ${complete('b')} ...B }` +
      `fragment B on Mutation { ${complete('c')} ${complete('d')} ... on Mutation { ${complete('e')} } }`;
    const refused = await post(gw.graphqlUrl, hidden, auth);
    expect(refused.status).toBe(400);
    expect(refused.body.errors![0].message).toMatch(/asks for 5 completions/);
    expect(fake.upstream.calls.length).toBe(before);

    // Four fields reached by four paths (spread twice, twice over) are four calls: the same
    // response keys, merged.
    const fourPaths =
      `mutation { ...F0 } fragment F0 on Mutation { ...F1 ...F1 }` +
      `fragment F1 on Mutation { ...F2 ...F2 }` +
      `fragment F2 on Mutation { ${complete('c0').replace('c0: ', '')} ${aliases(4).replace(/^.*?(?=c1:)/, '')} }`;
    const ran = await post(gw.graphqlUrl, fourPaths, auth);
    expect(ran.body.errors).toBeUndefined();
    expect(Object.keys(ran.body.data)).toEqual(['complete', 'c1', 'c2', 'c3']);
    expect(fake.upstream.calls.length).toBe(before + 4);
  });
});

describe('field suggestions', () => {
  const questions = async (url: string) => {
    const field = await gql(url, '{ viewer { idd } }', undefined, auth);
    const literal = await gql(
      url,
      'mutation { complete(input: { model: "echo/echo", messages: [{ role: USR, content: "x" }] }) { content } }',
      undefined,
      auth,
    );
    const variable = await gql(
      url,
      'mutation ($input: CompletionInput!) { complete(input: $input) { content } }',
      { input: { model: 'echo/echo', messages: [], maxTokenz: 5 } },
      auth,
    );
    return [field, literal, variable].map((answer) => {
      expect(answer.status).toBe(400);
      return answer.body.errors![0].message as string;
    });
  };

  it('are left out of every message when blocked, and given when not', async () => {
    const base = { providers: { echo: { type: 'echo' } }, clients: [{ id: 'app', key: KEY }] };
    const blocked = await startConduit({
      ...base,
      server: { graphql: { blockFieldSuggestions: true } },
    });
    const open = await startConduit({
      ...base,
      server: { graphql: { blockFieldSuggestions: false } },
    });
    const hidden = await questions(blocked.graphqlUrl);
    expect(hidden).toEqual([
      'Cannot query field "idd" on type "Client".',
      'Value "USR" does not exist in "Role" enum.',
      expect.stringMatching(
        /^Variable "\$input" got invalid value .*; Field "maxTokenz" is not defined by type "CompletionInput"\.$/,
      ),
    ]);
    for (const message of hidden) expect(message).not.toMatch(/Did you mean/);
    for (const message of await questions(open.graphqlUrl)) expect(message).toMatch(/Did you mean/);
  });

  it('are blocked by default in production, as the CLI runs', async () => {
    const previous = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'production';
      expect(parseConfig({ providers: {} }, {}).server.graphql.blockFieldSuggestions).toBe(true);
      process.env.NODE_ENV = 'development';
      expect(parseConfig({ providers: {} }, {}).server.graphql.blockFieldSuggestions).toBe(false);
    } finally {
      process.env.NODE_ENV = previous;
    }

    const dir = mkdtempSync(join(tmpdir(), 'conduit-armor-'));
    const file = join(dir, 'conduit.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        server: { port: 0 },
        database: { url: 'sqlite::memory:' },
        providers: { echo: { type: 'echo' } },
        clients: [{ id: 'app', key: KEY }],
      }),
    );
    const cli = runCli(['--config', file]);
    const line = await cli.waitForLine(/Conduit serves/);
    const url = /(http:\/\/[\d.:]+\/graphql)/.exec(line)![1]!;
    for (const message of await questions(url)) expect(message).not.toMatch(/Did you mean/);
  });
});
