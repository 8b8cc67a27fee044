/**
 * The one Redis connection a process shares between cache, limits, key cooldowns and spend.
 * It never throws at its users for being down: it keeps reconnecting with bounded backoff, and
 * while it is away commands fail at once (no offline queue), so every caller falls back.
 */
import { createClient } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

/** The slice of a pino logger the state layer uses. */
export interface StateLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Reports a failed store call; the caller has already fallen back. */
export type StoreErrorHandler = (error: Error) => void;

export interface RedisOptions {
  /** Longest wait between reconnect attempts. @default 2000 */
  maxBackoffMs?: number;
  /** @default 5000 */
  connectTimeoutMs?: number;
}

export interface SharedRedis {
  readonly client: RedisClient;
  /** Connected and answering now. */
  readonly ready: boolean;
  /** Resolves at the next (or current) moment the connection is ready. */
  whenReady(): Promise<void>;
  close(): Promise<void>;
}

/** Exponential backoff from 50 ms, capped, with a little jitter so replicas do not stampede. */
export const reconnectDelay = (retries: number, maxBackoffMs: number): number =>
  Math.min(50 * 2 ** Math.min(retries, 16), maxBackoffMs) + Math.floor(Math.random() * 50);

/**
 * Connects to `url`. Resolves once the first attempt has either succeeded or failed, so a start
 * with Redis down is not blocked: the client keeps trying in the background.
 */
export async function createRedis(
  url: string,
  log?: StateLog,
  options: RedisOptions = {},
): Promise<SharedRedis> {
  const { maxBackoffMs = 2000, connectTimeoutMs = 5000 } = options;
  const where = { redis: hostOf(url) };
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries) => reconnectDelay(retries, maxBackoffMs),
    },
  });

  let down = false;
  client.on('error', (error: unknown) => {
    if (down) return; // one line per outage, not one per reconnect attempt
    down = true;
    log?.warn({ ...where, err: error }, 'Redis unavailable; falling back until it is back');
  });
  client.on('ready', () => {
    if (down) log?.info(where, 'Redis connection restored');
    down = false;
  });

  const firstAttempt = new Promise<void>((resolve) => {
    const settle = () => {
      client.off('ready', settle);
      client.off('error', settle);
      resolve();
    };
    client.on('ready', settle);
    client.on('error', settle);
  });
  client.connect().catch(() => {
    // Only a closed client ends the reconnect loop; the 'error' listener has logged the cause.
  });
  await firstAttempt;

  return {
    client,
    get ready() {
      return client.isReady;
    },
    whenReady() {
      if (client.isReady) return Promise.resolve();
      return new Promise((resolve) => client.once('ready', () => resolve()));
    },
    async close() {
      if (!client.isOpen) return;
      if (client.isReady) {
        await client.close().catch(() => client.destroy());
      } else {
        client.destroy();
      }
    },
  };
}

/** host:port only, so a password in the URL never reaches a log. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'redis';
  }
}

/** An Error from whatever a store rejected with. */
export const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(String(error));

/** Escapes the glob characters of SCAN MATCH in a literal part of a pattern. */
export const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/** Deletes every key matching `pattern` with SCAN + UNLINK (never KEYS); returns how many went. */
export async function unlinkMatching(client: RedisClient, pattern: string): Promise<number> {
  let dropped = 0;
  for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
    if (keys.length > 0) dropped += await client.unlink(keys);
  }
  return dropped;
}
