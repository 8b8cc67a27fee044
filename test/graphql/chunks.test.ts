/**
 * completionStream events from the per-document plan (transport/chunks.ts) are what graphql-js's
 * executor makes of the same chunks: the same stream asked with a document the plan leaves to
 * graphql-js (a directive on a field) gives the same results, over SSE and WebSocket.
 */
import { createClient as createSseClient } from 'graphql-sse';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, wsClient } from '../helpers/clients.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const KEY = 'ck-chunks-app';
const FIELDS = `__typename t: __typename delta text: delta provider model cached done
  finishReason costUsd`;
const planned = `subscription ($input: CompletionInput!) {
  stream: completionStream(input: $input) { ${FIELDS} }
}`;
/** The same selection, left to graphql-js (a directive on a field). */
const general = `subscription ($input: CompletionInput!) {
  stream: completionStream(input: $input) { ${FIELDS} model2: model @include(if: true) }
}`;
const variables = {
  input: {
    model: 'echo/echo',
    messages: [
      { role: 'SYSTEM', content: 'be brief' },
      { role: 'USER', parts: [{ type: 'TEXT', text: 'one two three four' }] },
    ],
    cache: 'BYPASS',
    // Coerced by graphql-jit's compiled coercion for the planned document, by graphql-js for
    // the other: the gateway is asked the same either way.
    temperature: 0.5,
    maxTokens: 64,
    stop: 'zzz',
    user: 'u1',
    cacheOptions: { noStore: true },
  },
};

describe('completionStream chunks without the general executor', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  const withoutExtra = (results: { data?: unknown }[]) =>
    results.map((r) => {
      const { model2: _, ...chunk } = (r.data as { stream: Record<string, unknown> }).stream;
      return chunk;
    });

  it('gives over SSE and WebSocket what graphql-js gives, key for key', async () => {
    const sse = createSseClient({
      url: gw.graphqlUrl,
      headers: { authorization: `Bearer ${KEY}` },
      retryAttempts: 0,
    });
    onDispose(() => sse.dispose());
    const ws = wsClient(gw.wsUrl, `Bearer ${KEY}`);
    for (const iterate of [
      (query: string) => sse.iterate({ query, variables }),
      (query: string) => ws.iterate({ query, variables }),
    ]) {
      const fast = await collect(iterate(planned));
      const slow = await collect(iterate(general));
      expect(fast.length).toBeGreaterThan(2);
      expect(withoutExtra(fast)).toEqual(withoutExtra(slow));
      // Key order as graphql-js writes it: the selection's.
      expect(JSON.stringify(withoutExtra(fast))).toBe(JSON.stringify(withoutExtra(slow)));
      expect(fast.at(-1)).toEqual({
        data: {
          stream: {
            __typename: 'CompletionChunk',
            t: 'CompletionChunk',
            delta: expect.any(String),
            text: expect.any(String),
            provider: 'echo',
            model: 'echo',
            cached: false,
            done: true,
            finishReason: 'STOP',
            costUsd: expect.anything(),
          },
        },
      });
    }
  });
});
