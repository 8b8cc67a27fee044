/**
 * A WebSocket with a missing or wrong key in connectionParams is closed with 4401
 * (Unauthorized), which the graphql-ws client takes as final: the user sees the error at once
 * instead of after the client's retries (4403, which it retries).
 */
import { createClient, type Client } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const KEY = 'ck-ws-auth-app';

describe('WebSocket authentication', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  /** A client as an app makes one: retries on, with no wait between them. */
  function client(connectionParams: Record<string, unknown>): {
    client: Client;
    connections: () => number;
    closes: number[];
  } {
    let connecting = 0;
    const closes: number[] = [];
    const made = createClient({
      url: gw.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams,
      retryAttempts: 3,
      retryWait: () => Promise.resolve(),
      on: {
        connecting: () => connecting++,
        closed: (event) => closes.push((event as { code: number }).code),
      },
    });
    onDispose(() => made.dispose());
    return { client: made, connections: () => connecting, closes };
  }

  it('closes with 4401 for a missing or wrong key, and the client does not retry', async () => {
    for (const params of [{}, { authorization: 'Bearer wrong-key' }, { authorization: 42 }]) {
      const { client: refused, connections, closes } = client(params);
      const error = await refused
        .iterate({ query: '{ viewer { id } }' })
        .next()
        .catch((event: unknown) => event);
      expect([params, (error as { code?: number }).code]).toEqual([params, 4401]);
      expect([params, connections(), closes]).toEqual([params, 1, [4401]]);
    }
  });

  it('keeps serving a client with the right key', async () => {
    const { client: allowed } = client({ authorization: `Bearer ${KEY}` });
    const first = await allowed.iterate({ query: '{ viewer { id } }' }).next();
    expect(first.value).toEqual({ data: { viewer: { id: 'app' } } });
  });
});
