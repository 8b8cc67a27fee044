/**
 * CORS per client: a client's `origins` say where its credentials (its key, its session
 * tokens) may be used from. A preflight carries no credential: it is answered for any origin
 * some client (or `server.cors.origins`) lists, and refused (403) for any other. The request
 * itself, from an origin its credential's client does not list, gets 403 and no CORS headers,
 * on /graphql (JSON, SSE, Yoga's GET, WebSocket) and /v1 alike.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { wsClient } from '../helpers/clients.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';

const SHOP = 'https://shop.example.test';
const GLOBAL = 'https://global.example.test';
const EVIL = 'https://evil.example.test';
const SHOP_KEY = 'ck-cors-shop-0001';
const PLAIN_KEY = 'ck-cors-plain-0001';

const corsOf = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));

const preflight = (origin: string): RequestInit => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type',
  },
});

describe('CORS per client', () => {
  let gw: TestConduit;
  let token: string;

  beforeAll(async () => {
    gw = await startConduit(
      {
        server: { cors: { origins: [GLOBAL] } },
        providers: { echo: { type: 'echo' } },
        clients: [
          { id: 'shop', key: SHOP_KEY, origins: [SHOP] },
          { id: 'plain', key: PLAIN_KEY },
        ],
        auth: { sessionTokens: { secret: '${SECRET}' } },
      },
      { SECRET: 'cors-test-session-secret-0123456789abcdef' },
    );
    const minted = await gql(
      gw.graphqlUrl,
      'mutation { createSessionToken(input: { user: "u" }) { token } }',
      {},
      { authorization: `Bearer ${SHOP_KEY}` },
    );
    token = minted.body.data.createSessionToken.token;
  });

  /** The same request by every route: GraphQL JSON, GraphQL SSE, Yoga's GET, REST. */
  async function each(credential: string, origin: string) {
    const headers = { authorization: `Bearer ${credential}`, origin };
    const post = (accept: string, query: string) =>
      fetch(gw.graphqlUrl, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept },
        body: JSON.stringify({ query }),
      });
    const answers: [string, Response][] = [
      ['graphql json', await post('application/json', '{ viewer { id } }')],
      [
        'graphql sse',
        await post(
          'text/event-stream',
          'subscription { completionStream(input: { model: "echo/echo", messages: [{ role: USER, content: "hi" }] }) { delta } }',
        ),
      ],
      ['graphql get', await fetch(`${gw.graphqlUrl}?query=%7Bviewer%7Bid%7D%7D`, { headers })],
      ['rest', await fetch(`${gw.url}/v1/models`, { headers })],
    ];
    return Promise.all(
      answers.map(async ([name, response]) => {
        const body = await response.text();
        return { name, status: response.status, cors: corsOf(response), body };
      }),
    );
  }

  it('answers preflights for every listed origin, and refuses others with 403', async () => {
    for (const path of ['/graphql', '/v1/chat/completions']) {
      for (const origin of [SHOP, GLOBAL]) {
        const response = await fetch(`${gw.url}${path}`, preflight(origin));
        expect([path, origin, response.status]).toEqual([path, origin, 204]);
        expect(corsOf(response)['access-control-allow-origin']).toBe(origin);
      }
      const refused = await fetch(`${gw.url}${path}`, preflight(EVIL));
      expect([path, refused.status, corsOf(refused)]).toEqual([path, 403, {}]);
    }
  });

  it("serves a client's key and tokens from its own origins, with CORS headers", async () => {
    for (const credential of [SHOP_KEY, token]) {
      for (const answer of await each(credential, SHOP)) {
        expect([answer.name, answer.status]).toEqual([answer.name, 200]);
        expect([answer.name, answer.cors['access-control-allow-origin']]).toEqual([
          answer.name,
          SHOP,
        ]);
      }
    }
  });

  it('refuses them from another origin, even one the server lists: 403, no CORS headers', async () => {
    for (const credential of [SHOP_KEY, token]) {
      for (const origin of [GLOBAL, EVIL]) {
        for (const answer of await each(credential, origin)) {
          expect([answer.name, origin, answer.status, answer.cors]).toEqual([
            answer.name,
            origin,
            403,
            {},
          ]);
          expect(answer.body).toContain(`origin ${origin} is not allowed for client`);
        }
      }
    }
  });

  it('leaves a client without origins to server.cors.origins', async () => {
    for (const answer of await each(PLAIN_KEY, GLOBAL)) {
      expect([answer.name, answer.status, answer.cors['access-control-allow-origin']]).toEqual([
        answer.name,
        200,
        GLOBAL,
      ]);
    }
    // Another origin: served without CORS headers, as before (the browser keeps it from the page).
    for (const answer of await each(PLAIN_KEY, EVIL)) {
      expect([answer.name, answer.status, answer.cors]).toEqual([answer.name, 200, {}]);
    }
  });

  it('closes a WebSocket opened from a refused origin (4403)', async () => {
    const { default: WebSocket } = await import('ws');
    const { createClient } = await import('graphql-ws');
    const client = createClient({
      url: gw.wsUrl,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${SHOP_KEY}` },
      webSocketImpl: class extends WebSocket {
        constructor(url: string, protocols: string[]) {
          super(url, protocols, { headers: { origin: EVIL } });
        }
      },
    });
    const closed = await client
      .iterate({ query: '{ viewer { id } }' })
      .next()
      .catch((event: unknown) => event as { code: number });
    await client.dispose();
    expect(closed).toMatchObject({ code: 4403 });
    const allowed = wsClient(gw.wsUrl, `Bearer ${SHOP_KEY}`);
    expect((await allowed.iterate({ query: '{ viewer { id } }' }).next()).value).toEqual({
      data: { viewer: { id: 'shop' } },
    });
  });
});
