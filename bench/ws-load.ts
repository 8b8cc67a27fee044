/**
 * Load over GraphQL over WebSocket (graphql-ws), which autocannon cannot speak: the real
 * `graphql-ws` client over `ws`, as a front end would use it. Streams per second at a given
 * concurrency, and a holder of many slow subscriptions for the memory check.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { streamQuery } from './targets.js';

export interface WsTarget {
  /** `ws://host:port/graphql` */
  url: string;
  /** The key, sent as `connectionParams.authorization` (what Conduit's onConnect reads). */
  authorization: string;
  /** The `CompletionInput` of subscription `i` (a unique prompt each: the cache misses). */
  input: (i: number) => Record<string, unknown>;
}

interface StreamChunk {
  completionStream?: { delta: string; done: boolean };
}

/**
 * A connected client: resolves on `connection_ack`. Not lazy (a socket that runs nothing for a
 * moment between two subscriptions stays open), no retries (a failure is a failure).
 */
export function connect(target: WsTarget): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url: target.url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: target.authorization },
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: reject,
    });
    client.on('connected', () => resolve(client));
    client.on('closed', (event) => reject(new Error(`socket closed: ${JSON.stringify(event)}`)));
  });
}

/**
 * One subscription to its end. `onFirst` runs when the first event carrying `firstText`
 * arrives (the first token), with the ms since the subscribe. Resolves with the events seen;
 * rejects on a GraphQL error or a lost socket.
 */
export function subscribeOnce(
  client: Client,
  input: Record<string, unknown>,
  onFirst?: (ms: number) => void,
  firstText = 'word0',
): Promise<number> {
  return new Promise((resolve, reject) => {
    let events = 0;
    let first = !onFirst;
    const started = performance.now();
    client.subscribe<StreamChunk>(
      { query: streamQuery, variables: { input } },
      {
        next: (result) => {
          events++;
          if (result.errors) reject(new Error(JSON.stringify(result.errors)));
          if (!first && result.data?.completionStream?.delta.includes(firstText)) {
            first = true;
            onFirst!(performance.now() - started);
          }
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolve(events),
      },
    );
  });
}

/**
 * `concurrency` sockets, one subscription each at a time, each subscribing again as soon as
 * its stream completes, for `warmup` then `seconds`: completed streams per second over the
 * measured seconds (autocannon's "connections" over SSE, over WebSocket).
 */
export async function wsStreams(
  target: WsTarget,
  concurrency: number,
  seconds: number,
  warmup: number,
): Promise<{ rps: number; failed: number }> {
  const clients = await Promise.all(Array.from({ length: concurrency }, () => connect(target)));
  let id = 0;
  let measuring = false;
  let done = false;
  let completed = 0;
  let failed = 0;
  const loops = clients.map(async (client) => {
    while (!done) {
      try {
        const events = await subscribeOnce(client, target.input(++id));
        // 20 content chunks and the final one at least; fewer is a stream cut short.
        if (events < 21) failed++;
        else if (measuring && !done) completed++;
      } catch {
        failed++;
        return;
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  done = true;
  const took = (performance.now() - started) / 1000;
  await Promise.all(loops);
  await Promise.all(clients.map((client) => client.dispose()));
  return { rps: completed / took, failed };
}

export interface Held {
  /** Subscriptions running when every one had received events (those whose stream had ended
   * were running again by then, started anew). */
  active: number;
  /** Subscriptions that failed (a GraphQL error, a socket lost) before the measurement. */
  failed: number;
  /** From the first handshake until every subscription had received its first event. */
  openMs: number;
}

/**
 * Holds `count` subscriptions at once, `perSocket` on each socket (graphql-ws runs many
 * operations on one socket). Sockets connect `batch` at a time, each batch waiting for its
 * handshakes, so the server is not flooded with thousands at once. A subscription whose slow
 * stream ends is started again at once, so `count` stay open; once every one has received
 * events, `whileHeld` runs (awaited). Then every socket is closed. Progress goes to stderr
 * every 10 s while it takes.
 */
export async function holdSubscriptions(
  target: WsTarget,
  options: { count: number; perSocket: number; batch: number; timeoutMs: number },
  whileHeld: () => Promise<void>,
): Promise<Held> {
  const { count, perSocket, batch, timeoutMs } = options;
  const sockets = Math.ceil(count / perSocket);
  const clients: Client[] = [];
  /** Slots that have had events (once is enough: a slot whose stream ended runs again). */
  let streaming = 0;
  let running = 0;
  let failed = 0;
  let stopped = false;
  let allStreaming!: () => void;
  const ready = new Promise<void>((resolve) => (allStreaming = resolve));
  const started = performance.now();
  let id = 0;

  /** One slot: a subscription, started again when its stream ends, until the hold is over. */
  const hold = (client: Client) => {
    let seen = false;
    const start = () => {
      if (stopped) return;
      running++;
      client.subscribe<StreamChunk>(
        { query: streamQuery, variables: { input: target.input(++id) } },
        {
          next: () => {
            if (seen) return;
            seen = true;
            if (++streaming === count) allStreaming();
          },
          error: () => {
            running--;
            if (!stopped) failed++;
          },
          complete: () => {
            running--;
            start();
          },
        },
      );
    };
    start();
  };

  const progress = setInterval(() => {
    console.error(
      `  … ${clients.length} sockets, ${streaming} of ${count} subscriptions streaming, ` +
        `${failed} failed, after ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
  }, 10_000);
  try {
    for (let opened = 0; opened < sockets; opened += batch) {
      const size = Math.min(batch, sockets - opened);
      const connected = await Promise.all(Array.from({ length: size }, () => connect(target)));
      clients.push(...connected);
      for (const [i, client] of connected.entries()) {
        const first = (opened + i) * perSocket;
        for (let n = first; n < Math.min(count, first + perSocket); n++) hold(client);
      }
    }
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([ready, timeout]);
    const openMs = performance.now() - started;
    const active = streaming === count ? running : streaming;
    await whileHeld();
    return { active, failed, openMs };
  } finally {
    clearInterval(progress);
    stopped = true;
    await Promise.allSettled(clients.map((client) => client.dispose()));
  }
}
