/**
 * CORS from `server.cors.origins`, through real requests carrying Origin: an allowed origin gets
 * itself back with credentials, any other gets no CORS header at all, the same on the GraphQL
 * fast path, on Yoga's answers and on /v1; preflights are answered the same way everywhere.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const KEY = 'ck-cors-app';
const ALLOWED = 'https://app.example';
const OTHER = 'https://evil.example';

/** Every `access-control-*` header of an answer. */
function corsOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name.startsWith('access-control-')) out[name] = value;
  });
  return out;
}

const gqlPost = (query: string, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
  body: JSON.stringify({
    query,
    variables: { input: { model: 'echo/echo', messages: [{ role: 'USER', content: 'hi' }] } },
  }),
});

/** One request of each kind Conduit answers cross-origin, from `origin`. */
function requests(url: string, origin: string): [string, string, RequestInit][] {
  const from = { origin };
  const chat = JSON.stringify({ model: 'echo/echo', messages: [{ role: 'user', content: 'hi' }] });
  return [
    ['fast path', `${url}/graphql`, gqlPost('{ viewer { id } }', from)],
    [
      'fast path SSE',
      `${url}/graphql`,
      gqlPost(
        'subscription ($input: CompletionInput!) { completionStream(input: $input) { delta } }',
        { ...from, accept: 'text/event-stream' },
      ),
    ],
    [
      'fast path, no key (Yoga answers)',
      `${url}/graphql`,
      gqlPost('{ viewer { id } }', { ...from, authorization: '' }),
    ],
    [
      'Yoga: GET',
      `${url}/graphql?query=${encodeURIComponent('{ __typename }')}`,
      { headers: { ...from, authorization: `Bearer ${KEY}` } },
    ],
    ['REST models', `${url}/v1/models`, { headers: { ...from, authorization: `Bearer ${KEY}` } }],
    [
      'REST chat',
      `${url}/v1/chat/completions`,
      {
        method: 'POST',
        headers: { ...from, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: chat,
      },
    ],
    [
      'REST chat streamed',
      `${url}/v1/chat/completions`,
      {
        method: 'POST',
        headers: { ...from, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...JSON.parse(chat), stream: true }),
      },
    ],
    ['REST, no key', `${url}/v1/models`, { headers: from }],
  ];
}

const preflight = (origin: string): RequestInit => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type, x-client-trace',
  },
});

describe('CORS with allowed origins', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
      server: { cors: { origins: [ALLOWED, 'http://localhost:5173'] } },
    });
  });

  it('gives an allowed origin itself back, with credentials, on every route', async () => {
    for (const [name, url, init] of requests(gw.url, ALLOWED)) {
      const response = await fetch(url, init);
      await response.arrayBuffer();
      expect([name, corsOf(response)]).toEqual([
        name,
        expect.objectContaining({
          'access-control-allow-origin': ALLOWED,
          'access-control-allow-credentials': 'true',
          'access-control-expose-headers': expect.stringContaining('x-request-id'),
        }),
      ]);
      expect([name, response.headers.get('vary')]).toEqual([
        name,
        expect.stringMatching(/Origin/i),
      ]);
    }
  });

  it('gives any other origin no CORS header at all', async () => {
    for (const [name, url, init] of requests(gw.url, OTHER)) {
      const response = await fetch(url, init);
      await response.arrayBuffer();
      expect([name, corsOf(response)]).toEqual([name, {}]);
    }
  });

  it('answers a preflight from an allowed origin, on /graphql and /v1 alike', async () => {
    const answers = [];
    for (const path of ['/graphql', '/v1/chat/completions', '/v1/models']) {
      const response = await fetch(`${gw.url}${path}`, preflight(ALLOWED));
      expect([path, response.status]).toEqual([path, 204]);
      answers.push(corsOf(response));
    }
    const [graphql, ...rest] = answers;
    expect(graphql).toEqual({
      'access-control-allow-origin': ALLOWED,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': expect.stringMatching(
        /^authorization, content-type, .*x-client-trace/,
      ),
      'access-control-expose-headers': expect.any(String),
      'access-control-max-age': '600',
    });
    for (const answer of rest) expect(answer).toEqual(graphql);
  });

  it('gives a preflight from any other origin no CORS header', async () => {
    for (const path of ['/graphql', '/v1/chat/completions']) {
      const response = await fetch(`${gw.url}${path}`, preflight(OTHER));
      expect([path, corsOf(response)]).toEqual([path, {}]);
    }
  });
});

describe('CORS by default', () => {
  it('allows no origin at all', async () => {
    const gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
    for (const [name, url, init] of requests(gw.url, ALLOWED)) {
      const response = await fetch(url, init);
      await response.arrayBuffer();
      expect([name, corsOf(response)]).toEqual([name, {}]);
    }
    for (const path of ['/graphql', '/v1/chat/completions']) {
      const response = await fetch(`${gw.url}${path}`, preflight(ALLOWED));
      expect([path, corsOf(response)]).toEqual([path, {}]);
    }
  });

  it('refuses an origin that is not one', async () => {
    await expect(
      startConduit({
        providers: { echo: { type: 'echo' } },
        server: { cors: { origins: ['https://app.example/'] } },
      }),
    ).rejects.toThrow(/server\.cors\.origins\[0\].*must be an origin/);
  });
});
