/**
 * A WebSocket let in by a session token lasts as long as the token, over a real graphql-ws
 * client: at expiry an idle socket is closed with 4401 "session token expired"; an operation
 * in flight at expiry finishes (its answer arrives) while one started after it is refused, and
 * the socket closes once the first is done; a feed (requestEvents) does not hold it open. A new connection with the expired token is refused.
 */
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket, { type CloseEvent } from 'ws';
import { openaiCompletion, resolveReply } from '../fakes/openai.js';
import { wsClient } from '../helpers/clients.js';
import { gql, startConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { createFakeUpstream } from '../helpers/fake-upstream.js';

const KEY = 'ck-shop-ws-expiry-key-0001';
const SECRET = 'session-secret-for-ws-expiry-0123456789';
const EXPIRED = 'session token expired';

const MINT = /* GraphQL */ `
  mutation ($input: SessionTokenInput!) {
    createSessionToken(input: $input) {
      token
      expiresAt
    }
  }
`;
const COMPLETE = /* GraphQL */ `
  mutation {
    complete(
      input: { model: "up/gpt-4o-mini", messages: [{ role: USER, content: "hello there" }] }
    ) {
      content
    }
  }
`;

/** An OpenAI fake whose answers wait until the test lets them go. */
async function gatedUpstream() {
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const upstream = await createFakeUpstream(async (call) => {
    arrived();
    await gate;
    return { kind: 'json', body: openaiCompletion(resolveReply(undefined, call.json)) };
  });
  onDispose(() => upstream.close());
  return { upstream, arrival, release };
}

async function start(baseUrl: string) {
  const gw = await startConduit(
    {
      providers: { up: { type: 'openai', baseUrl, keys: ['sk-up-ws-expiry'] } },
      clients: [{ id: 'shop', key: '${SHOP_KEY}' }],
      auth: { sessionTokens: { secret: '${SESSION_SECRET}' } },
      retry: { attempts: 1 },
    },
    { SHOP_KEY: KEY, SESSION_SECRET: SECRET },
  );
  const mint = async (ttlSeconds: number) => {
    const { body } = await gql(
      gw.graphqlUrl,
      MINT,
      { input: { user: 'alice', ttlSeconds } },
      { authorization: `Bearer ${KEY}` },
    );
    return body.data.createSessionToken.token as string;
  };
  const status = async (token: string) =>
    (await gql(gw.graphqlUrl, '{ viewer { id } }', {}, { authorization: `Bearer ${token}` }))
      .status;
  return { gw, mint, status };
}

const closedOf = (client: ReturnType<typeof wsClient>) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    client.on('closed', (event) => {
      const { code, reason } = event as CloseEvent;
      resolve({ code, reason: String(reason) });
    }),
  );

describe('a session token expiring while its WebSocket is open', () => {
  it('closes an idle socket with 4401 saying the token expired, and refuses it again', async () => {
    const { upstream } = await gatedUpstream();
    const { gw, mint } = await start(`${upstream.url}/v1`);
    const token = await mint(2);
    // Not lazy: the socket stays open with nothing running on it.
    const ws = createClient({
      url: gw.wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
    });
    onDispose(() => ws.dispose());
    const closed = closedOf(ws);
    expect((await ws.iterate({ query: '{ viewer { id } }' }).next()).value).toEqual({
      data: { viewer: { id: 'shop' } },
    });

    expect(await closed).toEqual({ code: 4401, reason: EXPIRED });

    // Connecting again with the same token: refused at once, saying why.
    const again = wsClient(gw.wsUrl, `Bearer ${token}`);
    const refused = await again
      .iterate({ query: '{ viewer { id } }' })
      .next()
      .catch((event: unknown) => event as CloseEvent);
    expect(refused).toMatchObject({ code: 4401, reason: EXPIRED });
  });

  it('does not wait for a feed (requestEvents), which never ends on its own', async () => {
    const { upstream } = await gatedUpstream();
    const { gw, mint } = await start(`${upstream.url}/v1`);
    const ws = wsClient(gw.wsUrl, `Bearer ${await mint(2)}`);
    const closed = closedOf(ws);
    const feed = ws.iterate({ query: 'subscription { requestEvents { id } }' });
    const ended = feed.next().catch((event: unknown) => event as CloseEvent);
    expect(await closed).toEqual({ code: 4401, reason: EXPIRED });
    expect(await ended).toMatchObject({ code: 4401 });
  });

  it('lets an operation in flight finish, refuses one started after expiry, then closes', async () => {
    const { upstream, arrival, release } = await gatedUpstream();
    const { gw, mint, status } = await start(`${upstream.url}/v1`);
    const token = await mint(2);
    const ws = wsClient(gw.wsUrl, `Bearer ${token}`);
    const closed = closedOf(ws);
    const results: string[] = [];
    const inFlight = ws
      .iterate({ query: COMPLETE })
      .next()
      .then((result) => {
        results.push('answer');
        return result.value;
      });
    await arrival;

    // The token has expired once Conduit says so over HTTP.
    await expect.poll(() => status(token), { timeout: 5000, interval: 50 }).toBe(401);
    const late = await ws
      .iterate({ query: '{ viewer { id } }' })
      .next()
      .catch((errors: unknown) => errors as { message: string }[]);
    expect(late).toEqual([expect.objectContaining({ message: EXPIRED })]);

    release();
    expect(await inFlight).toEqual({ data: { complete: { content: 'hello there' } } });
    const event = await closed;
    results.push('closed');
    expect(event).toEqual({ code: 4401, reason: EXPIRED });
    expect(results).toEqual(['answer', 'closed']);
  });
});
