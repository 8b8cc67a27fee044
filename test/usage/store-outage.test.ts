/**
 * A Postgres that goes away and comes back: a TCP proxy in front of the real server, closed
 * (every connection cut, the port refusing) and reopened on the same port.
 */
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { LogEvent } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { createUsageStore, type UsageStoreOptions } from '../../src/usage/store.js';
import {
  createPostgresDatabase,
  describePostgres,
  emptyPostgresDatabase,
  postgresUnavailable,
  usageRecord,
  type TestDatabase,
  useDisposers,
} from '../helpers/databases.js';

const pgReason = await postgresUnavailable();

let shared: TestDatabase | null = null;
afterAll(async () => shared?.drop());

const dispose = useDisposers();

async function createProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const proxy = {
    port,
    async down() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async up() {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
  };
  dispose(() => (server.listening ? proxy.down() : Promise.resolve()));
  return proxy;
}

/** An empty database reached through a proxy, and a store on it with quick retries. */
async function storeBehindProxy(options: Partial<UsageStoreOptions> = {}) {
  shared ??= await createPostgresDatabase();
  await emptyPostgresDatabase(shared.url);
  const database = shared;
  const proxy = await createProxy(new URL(database.url));
  const url = new URL(database.url);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);

  const errors: unknown[] = [];
  const drops: number[] = [];
  let onInsert: (() => void) | null = null;
  const log = (event: LogEvent): void => {
    if (event.level === 'query' && event.query.sql.startsWith('insert into "usage_records"')) {
      onInsert?.();
    }
  };
  const store = await createUsageStore({
    url: url.toString(),
    retryInitialMs: 20,
    retryMaxMs: 100,
    flushIntervalMs: 10,
    onError: (error) => errors.push(error),
    onDrop: (n) => drops.push(n),
    log,
    ...options,
  });
  dispose(() => store.close().catch(() => {}));
  const nextInsert = () => new Promise<void>((resolve) => (onInsert = resolve));
  return { store, proxy, errors, drops, nextInsert };
}

describePostgres('usage store while Postgres is down', pgReason, () => {
  it('keeps records queued and writes them, retrying on its own, when it is back', async () => {
    const { store, proxy, errors, nextInsert } = await storeBehindProxy();
    store.record(usageRecord());
    await store.flush();
    expect(store.stats().written).toBe(1);

    await proxy.down();
    for (let i = 0; i < 30; i++) store.record(usageRecord());
    await expect(store.flush()).rejects.toThrow();
    expect(store.stats()).toEqual({ queued: 30, dropped: 0, written: 1 });
    expect(errors.length).toBeGreaterThan(0);

    // Nobody calls flush: the writer's own retry finds the database back.
    const inserted = nextInsert();
    await proxy.up();
    await inserted;
    await store.flush();
    expect(store.stats()).toEqual({ queued: 0, dropped: 0, written: 31 });
    expect((await store.query({}, [])).requests).toBe(31);
  });

  it('drops the oldest beyond maxQueue while down, counts them, and writes the rest after', async () => {
    const { store, proxy, drops } = await storeBehindProxy({ maxQueue: 5 });
    await proxy.down();
    for (let i = 0; i < 8; i++) store.record(usageRecord({ latencyMs: i }));
    expect(store.stats()).toMatchObject({ queued: 5, dropped: 3 });
    expect(drops.reduce((a, b) => a + b, 0)).toBe(3);

    await proxy.up();
    await store.flush();
    const report = await store.query({}, []);
    expect(report.requests).toBe(5);
    expect(report.latencyP50Ms).toBe(5); // the newest five: 3..7
    expect(store.stats()).toEqual({ queued: 0, dropped: 3, written: 5 });
  });

  it('close() while down rejects, and counts what it could not write as dropped', async () => {
    const { store, proxy, drops } = await storeBehindProxy();
    await proxy.down();
    for (let i = 0; i < 4; i++) store.record(usageRecord());
    await expect(store.close()).rejects.toThrow();
    expect(store.stats()).toEqual({ queued: 0, dropped: 4, written: 0 });
    expect(drops.reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('refuses to start when the database cannot be reached', async () => {
    const { proxy } = await storeBehindProxy();
    await proxy.down();
    await expect(
      createUsageStore({ url: `postgres://postgres@127.0.0.1:${proxy.port}/nothing` }),
    ).rejects.toThrow();
  });
});
