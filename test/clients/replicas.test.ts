/**
 * Runtime clients made, re-keyed and revoked on one replica and seen on a second: two Conduit
 * instances on one database (a shared SQLite file, or one Postgres database), told of changes
 * over Redis pub/sub, or, without Redis, by polling the change counter.
 */
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { onDispose } from '../helpers/dispose.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import {
  createPostgresDatabase,
  createSqliteDatabase,
  describePostgres,
  postgresUnavailable,
  type TestDatabase,
} from '../helpers/databases.js';
import { describeRedis, redisUrl } from '../helpers/redis.js';
import {
  completeAs,
  CREATE,
  echoConfig,
  nextChange,
  REVOKE,
  ROTATE,
  run,
  until,
  whoIs,
} from './harness.js';

/** What "seen by every replica within a second" allows. */
const SEEN_WITHIN_MS = 1_000;
const GRACE_SECONDS = 3;

const admin = { id: 'ops', key: 'ops-key-7c1e0b5f9a2d', admin: true };

function replicaSuite(makeDatabase: () => Promise<TestDatabase>, redis: boolean): void {
  let database: TestDatabase;
  let one: TestConduit;
  let two: TestConduit;

  beforeAll(async () => {
    database = await makeDatabase();
    const config = {
      ...echoConfig,
      database: { url: database.url },
      clients: [admin],
      ...(redis && { redis: { url: redisUrl } }),
      runtimeClients: { pollIntervalMs: 100 },
    };
    // One after the other: both run the migrations at start.
    one = await startConduit(config);
    two = await startConduit(config);
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await database?.drop();
  });

  it('sees a client made, re-keyed (the old key honoured for the grace) and revoked elsewhere', async () => {
    const id = `app-${Math.random().toString(36).slice(2, 8)}`;

    const made = nextChange(two, SEEN_WITHIN_MS);
    const { createClient } = await run(one, admin.key, CREATE, {
      input: { id, models: ['chat'] },
    });
    const first: string = createClient.key;
    expect(first).toMatch(/^cdt_[\w-]{43}$/);
    expect(createClient.client).toEqual({ id, source: 'RUNTIME', admin: false, models: ['chat'] });
    await made;
    expect(await whoIs(two, first)).toBe(id);
    expect(await completeAs(two, first)).toBe('ok');

    const rotated = nextChange(two, SEEN_WITHIN_MS);
    const { rotateClientKey } = await run(one, admin.key, ROTATE, { id, grace: GRACE_SECONDS });
    const second: string = rotateClientKey.key;
    expect(second).not.toBe(first);
    await rotated;
    // Within the grace period both keys let the client in, on both replicas.
    for (const gw of [one, two]) {
      expect(await whoIs(gw, second)).toBe(id);
      expect(await whoIs(gw, first)).toBe(id);
    }
    // Then the old one stops, everywhere; the new one goes on.
    await until(
      async () => (await whoIs(two, first)).startsWith('401'),
      GRACE_SECONDS * 1000 + 10_000,
      'the old key refused after the grace period',
    );
    expect(await whoIs(two, first)).toMatch(/^401: API key replaced: its grace period ended at /);
    expect(await whoIs(one, first)).toMatch(/^401: /);
    expect(await whoIs(two, second)).toBe(id);

    // A WebSocket open on the other replica with the key is closed when the client is revoked.
    const closes: number[] = [];
    const socket = createWsClient({
      url: one.wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      onNonLazyError: () => {}, // the close is what the test waits for
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${second}` },
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    onDispose(() => socket.dispose());
    const viewer = await socket.iterate({ query: '{ viewer { id } }' }).next();
    expect(viewer.value).toEqual({ data: { viewer: { id } } });
    const closed = new Promise<void>((resolve) => socket.on('closed', () => resolve()));

    const revoked = nextChange(one, SEEN_WITHIN_MS);
    const { revokeClient } = await run(two, admin.key, REVOKE, { id });
    expect(revokeClient).toEqual({ id, revoked: true });
    await revoked;
    expect(await whoIs(one, second)).toBe('401: API key revoked');
    expect(await completeAs(one, second)).toBe('UNAUTHENTICATED');
    await closed;
    expect(closes).toEqual([4403]);
  });
}

const postgres = await postgresUnavailable();

describeRedis('runtime clients across replicas, Redis pub/sub', () => {
  describePostgres('on Postgres', postgres, () => replicaSuite(createPostgresDatabase, true));
  describe('on a shared SQLite file', () => replicaSuite(async () => createSqliteDatabase(), true));
});

describe('runtime clients across replicas, polling (no Redis)', () => {
  describePostgres('on Postgres', postgres, () => replicaSuite(createPostgresDatabase, false));
  describe('on a shared SQLite file', () =>
    replicaSuite(async () => createSqliteDatabase(), false));
});
