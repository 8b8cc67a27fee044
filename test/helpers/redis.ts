/**
 * Real Redis for tests: the server at REDIS_URL (default redis://127.0.0.1:6379), a unique key
 * prefix per run (removed afterwards), and throwaway `redis-server` processes for outage tests.
 * Without Redis, Redis tests fail loudly when CI is set, and are skipped with the reason if not.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  createRedis,
  escapeGlob,
  unlinkMatching,
  type SharedRedis,
} from '../../src/state/redis.js';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why Redis tests cannot run here, or undefined when they can. */
async function probe(): Promise<string | undefined> {
  const client = createClient({
    url: redisUrl,
    socket: { connectTimeout: 1000, reconnectStrategy: false },
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `no Redis at ${redisUrl} (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

export const redisMissing = await probe();

const serverBinaryMissing =
  spawnSync('redis-server', ['--version']).status === 0
    ? undefined
    : 'no redis-server binary on PATH';

/**
 * `describe` that needs Redis: the server at REDIS_URL, or (`spawnsServers`) only the
 * redis-server binary, for tests that run servers of their own.
 */
export function describeRedis(
  name: string,
  body: () => void,
  options: { spawnsServers?: boolean } = {},
): void {
  const missing = options.spawnsServers ? serverBinaryMissing : redisMissing;
  if (missing === undefined) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it('has the Redis it needs', () => {
        throw new Error(`Redis is required in CI: ${missing}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${missing})`, body);
  }
}

/** A unique prefix per call, e.g. `conduit-test:1a2b3c4d`. */
export const testPrefix = (): string => `conduit-test:${randomUUID().slice(0, 8)}`;

/**
 * Connects before the suite's tests and, after them, deletes every key under the prefix and
 * closes. Use inside `describeRedis`.
 */
export function useRedis(): { readonly redis: SharedRedis; readonly prefix: string } {
  const prefix = testPrefix();
  const connections: SharedRedis[] = [];
  beforeAll(async () => {
    const redis = await createRedis(redisUrl);
    if (!redis.ready) throw new Error(`could not connect to ${redisUrl}`);
    connections.push(redis);
  });
  afterAll(async () => {
    const [redis] = connections;
    if (redis?.ready) await unlinkMatching(redis.client, `${escapeGlob(prefix)}*`);
    await redis?.close();
  });
  return {
    prefix,
    get redis() {
      const redis = connections[0];
      if (!redis) throw new Error('useRedis() is read before its beforeAll ran');
      return redis;
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL: an outage, not a shutdown) and waits for it to exit. */
  kill(): Promise<void>;
}

/** Starts a throwaway, persistence-free redis-server and waits until it accepts connections. */
export async function startRedisServer(port: number): Promise<RedisServer> {
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = once(child, 'exit');
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout?.resume();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
