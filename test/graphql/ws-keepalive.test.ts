/**
 * The WebSocket keep-alive (src/graphql/transport/websocket.ts): every socket is pinged each
 * round (12 s); one that has not answered the last ping by the next round is cut, one that
 * answers stays. Real sockets with the `ws` client, one answering pings itself (as browsers
 * and `ws` do) and one told not to. It waits on the pings and the close, two rounds at most.
 */
import { once } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const KEY = 'ck-ws-keepalive-app';

/** An acknowledged graphql-ws connection; `autoPong: false` leaves pings unanswered. */
async function connected(gw: TestConduit, autoPong: boolean): Promise<WebSocket> {
  const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws', { autoPong });
  onDispose(() => socket.terminate());
  await once(socket, 'open');
  socket.send(
    JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${KEY}` } }),
  );
  const [ack] = (await once(socket, 'message')) as [Buffer];
  expect(JSON.parse(ack.toString())).toMatchObject({ type: 'connection_ack' });
  return socket;
}

describe('WebSocket keep-alive', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  it('cuts a socket that leaves a ping unanswered, and keeps one that answers', async () => {
    const [silent, answering] = await Promise.all([connected(gw, false), connected(gw, true)]);
    let silentPings = 0;
    silent.on('ping', () => silentPings++);
    let answeredPings = 0;
    const twoPings = new Promise<void>((resolve) =>
      answering.on('ping', () => ++answeredPings === 2 && resolve()),
    );
    const [code] = (await once(silent, 'close')) as [number];
    // Terminated: no close frame, so the client sees 1006.
    expect(code).toBe(1006);
    expect(silentPings).toBeGreaterThanOrEqual(1);
    await twoPings;
    expect(answering.readyState).toBe(WebSocket.OPEN);
  }, 60_000);
});
