/**
 * Compiled execution (`src/graphql/transport/execute.ts`): a document that has run often runs
 * graphql-jit's plan, and answers byte for byte as graphql-js did on its first runs: data,
 * field errors with their codes and paths (a non-null `complete` that failed: data null),
 * request errors (variables that do not coerce: 400, graphql-js's message, BAD_USER_INPUT).
 * A `completionStream` subscription's variables are coerced by graphql-jit's compiled coercion
 * once its document has run as often (`transport/chunks.ts`): the same stream, and the same
 * refusal of variables that do not coerce.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const KEY = 'ck-compiled-app';
const STREAM = `subscription Stream($input: CompletionInput!) {
  completionStream(input: $input) { delta provider model done finishReason }
}`;
const COMPLETE = `mutation Complete($input: CompletionInput!) {
  complete(input: $input) { provider model content finishReason usage { totalTokens } }
}`;
/** More than the runs after which a document is compiled. */
const RUNS = 120;

interface Answer {
  status: number;
  type: string | null;
  body: string;
}

describe('compiled execution', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  const post = async (
    query: string,
    variables: Record<string, unknown>,
    accept = 'application/graphql-response+json',
  ): Promise<Answer> => {
    const response = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept,
        authorization: `Bearer ${KEY}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: await response.text(),
    };
  };

  /** The first and the last answer of RUNS runs of one request. */
  async function firstAndLast(
    query: string,
    variables: Record<string, unknown>,
  ): Promise<[Answer, Answer]> {
    const first = await post(query, variables);
    let last = first;
    for (let i = 1; i < RUNS; i++) last = await post(query, variables);
    return [first, last];
  }

  it('answers a completion as graphql-js did', async () => {
    // Each document is its own: the query text differs by a comment.
    const query = `${COMPLETE} # data`;
    const [first, last] = await firstAndLast(query, {
      input: { model: 'echo/echo', messages: [{ role: 'USER', content: 'same words' }] },
    });
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body).data.complete.content).toContain('same words');
    expect(last).toEqual(first);
  });

  it('answers a failed completion (a field error on a non-null field) as graphql-js did', async () => {
    const query = `${COMPLETE} # field error`;
    const [first, last] = await firstAndLast(query, {
      input: { model: 'nowhere/none', messages: [{ role: 'USER', content: 'x' }] },
    });
    const body = JSON.parse(first.body) as { data: unknown; errors: { extensions: object }[] };
    expect(body.data).toBeNull();
    expect(body.errors[0]!.extensions).toHaveProperty('code');
    expect(Object.keys(body)).toEqual(['errors', 'data']);
    expect(last).toEqual(first);
  });

  it('refuses variables that do not coerce with 400 and graphql-js message, compiled or not', async () => {
    const query = `${COMPLETE} # variables`;
    const good = { input: { model: 'echo/echo', messages: [{ role: 'USER', content: 'x' }] } };
    // Enough good runs to compile the document, then a bad one.
    for (let i = 0; i < RUNS; i++) expect((await post(query, good)).status).toBe(200);
    const bad = await post(query, { input: { model: 'echo/echo', messages: [], maxTokenz: 5 } });
    const fresh = await post(`${query} fresh`, {
      input: { model: 'echo/echo', messages: [], maxTokenz: 5 },
    });
    expect(bad.status).toBe(400);
    expect(bad).toEqual(fresh);
    const error = (JSON.parse(bad.body) as { errors: { message: string; extensions: object }[] })
      .errors[0]!;
    expect(error.message).toMatch(/^Variable "\$input" got invalid value/);
    expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT' });
  });

  it('streams a subscription as graphql-js did, and refuses its variables alike, compiled or not', async () => {
    const input = {
      model: 'echo/echo',
      messages: [
        { role: 'SYSTEM', content: 'be brief' },
        { role: 'USER', parts: [{ type: 'TEXT', text: 'streamed words' }] },
      ],
      temperature: 0.5,
      maxTokens: 64,
      stop: 'zzz',
      cache: 'BYPASS',
      cacheOptions: { noStore: true },
    };
    const sse = 'text/event-stream';
    const first = await post(STREAM, { input }, sse);
    expect(first.body).toContain('"delta":" words"');
    let last = first;
    for (let i = 1; i < RUNS; i++) last = await post(STREAM, { input }, sse);
    expect(last).toEqual(first);
    const wrong = { input: { ...input, maxTokenz: 5, temperature: 'warm' } };
    const bad = await post(STREAM, wrong, sse);
    const fresh = await post(`${STREAM} # fresh`, wrong, sse);
    expect(bad).toEqual(fresh);
    expect(bad.body).toMatch(/"message":"Variable \\"\$input\\" got invalid value/);
  });
});
