/**
 * Requests the fast path leaves to Yoga have their body read here (bounded) and replayed to
 * Yoga; a streamed answer must still stream, event by event, not arrive in one piece at the end.
 */
import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const KEY = 'ck-fallback-stream';
const STREAM = `subscription ($input: CompletionInput!) { completionStream(input: $input) { delta } }`;

/** The body's pieces as the socket delivered them. */
function pieces(url: string, headers: Record<string, string>, body: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const out: string[] = [];
      res.on('data', (chunk: Buffer) => out.push(chunk.toString()));
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Yoga’s streamed answers after the body is read here', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      // A pause between words: each event leaves in its own write.
      providers: { echo: { type: 'echo', delayMs: 40 } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  it('streams an SSE subscription Yoga answers, event by event', async () => {
    const body = JSON.stringify({
      query: STREAM,
      variables: {
        input: { model: 'echo/echo', messages: [{ role: 'USER', content: 'one two three four' }] },
      },
    });
    const headers = {
      authorization: `Bearer ${KEY}`,
      'content-type': 'application/json',
      accept: 'text/event-stream',
    };
    // A query string and an Accept listing JSON too: both leave the request to Yoga.
    for (const [url, accept] of [
      [`${gw.graphqlUrl}?from=test`, 'text/event-stream'],
      [gw.graphqlUrl, 'text/event-stream, application/json'],
    ] as const) {
      const got = await pieces(url, { ...headers, accept }, body);
      const text = got.join('');
      expect(text).toContain('"delta":"one"');
      expect(text.endsWith('event: complete\ndata:\n\n')).toBe(true);
      // Buffered, it would come as one piece.
      expect([url, accept, got.length > 3]).toEqual([url, accept, true]);
    }
  });
});
