import { existsSync } from 'node:fs';
import type { LogEvent } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fromRow, openDatabase } from '../../src/usage/store-db.js';
import {
  createUsageStore,
  UsageDimensions,
  type UsageDimension,
  type UsageRecord,
  type UsageReport,
  type UsageStore,
  type UsageStoreOptions,
} from '../../src/usage/store.js';
import {
  createPostgresDatabase,
  createSqliteDatabase,
  describePostgres,
  emptyPostgresDatabase,
  postgresUnavailable,
  usageRecord,
  type TestDatabase,
} from '../helpers/databases.js';

const pgReason = await postgresUnavailable();

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

/** Counts the multi-row inserts into the usage table, as Kysely ran them. */
function insertCounter() {
  const rowsPerInsert: number[] = [];
  let waiters: (() => void)[] = [];
  const log = (event: LogEvent): void => {
    if (event.level !== 'query' || !/^insert into "usage_records"/.test(event.query.sql)) return;
    rowsPerInsert.push(event.query.parameters.length / 23);
    for (const wake of waiters.splice(0)) wake();
  };
  const nextInsert = () => new Promise<void>((resolve) => waiters.push(resolve));
  return { log, rowsPerInsert, nextInsert, reset: () => (waiters = []) };
}

function percentileCont(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Four requests over two days, two clients, two providers, with gaps (nulls) on purpose. */
function fixture(): UsageRecord[] {
  return [
    usageRecord({
      time: new Date('2026-03-01T10:15:00Z'),
      clientId: 'a',
      user: 'u1',
      provider: 'openai',
      model: 'gpt-4o',
      latencyMs: 100,
      costUsd: 0.01,
      promptTokens: 100,
      completionTokens: 10,
    }),
    usageRecord({
      time: new Date('2026-03-01T11:59:59Z'),
      clientId: 'a',
      user: 'u2',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      status: 'error',
      errorCode: 'UPSTREAM_ERROR',
      latencyMs: 200,
      costUsd: 0,
      promptTokens: 0,
      completionTokens: 0,
    }),
    usageRecord({
      time: new Date('2026-03-02T09:00:00Z'),
      clientId: 'b',
      user: null,
      provider: 'openai',
      model: 'gpt-4o-mini',
      cacheHit: true,
      savedUsd: 0.02,
      latencyMs: 50,
      costUsd: 0,
      promptTokens: 40,
      completionTokens: 4,
    }),
    usageRecord({
      time: new Date('2026-03-02T09:30:00Z'),
      clientId: 'b',
      user: 'u1',
      provider: null,
      model: null,
      status: 'error',
      errorCode: 'BAD_USER_INPUT',
      latencyMs: 5,
      costUsd: 0,
      promptTokens: 0,
      completionTokens: 0,
    }),
  ];
}

/** groupBy → the expected groups' keys and request counts, in the store's order. */
const expectedGroups: Record<UsageDimension, [string | null, number][]> = {
  CLIENT: [
    ['a', 2],
    ['b', 2],
  ],
  USER: [
    ['u1', 2],
    ['u2', 1],
    [null, 1],
  ],
  PROVIDER: [
    ['anthropic', 1],
    ['openai', 2],
    [null, 1],
  ],
  MODEL: [
    ['claude-haiku-4-5', 1],
    ['gpt-4o', 1],
    ['gpt-4o-mini', 1],
    [null, 1],
  ],
  DAY: [
    ['2026-03-01', 2],
    ['2026-03-02', 2],
  ],
  HOUR: [
    ['2026-03-01T10:00:00Z', 1],
    ['2026-03-01T11:00:00Z', 1],
    ['2026-03-02T09:00:00Z', 2],
  ],
};

const field = {
  CLIENT: 'clientId',
  USER: 'user',
  PROVIDER: 'provider',
  MODEL: 'model',
  DAY: 'day',
  HOUR: 'hour',
} as const;

function expectTotalsAreSums(report: UsageReport): void {
  const sum = (key: 'requests' | 'errors' | 'cacheHits' | 'promptTokens' | 'completionTokens') =>
    report.groups.reduce((total, group) => total + group[key], 0);
  for (const key of [
    'requests',
    'errors',
    'cacheHits',
    'promptTokens',
    'completionTokens',
  ] as const) {
    expect(sum(key), key).toBe(report[key]);
  }
  expect(report.groups.reduce((t, g) => t + g.costUsd, 0)).toBeCloseTo(report.costUsd, 12);
  expect(report.groups.reduce((t, g) => t + g.savedUsd, 0)).toBeCloseTo(report.savedUsd, 12);
}

function storeSuite(makeDatabase: () => Promise<TestDatabase>): void {
  async function open(options: Partial<UsageStoreOptions> = {}) {
    const database = await makeDatabase();
    disposers.push(() => database.drop());
    const store = await createUsageStore({ url: database.url, ...options });
    disposers.push(() => store.close().catch(() => {}));
    return { store, database };
  }

  async function filled(records = fixture()): Promise<UsageStore> {
    const { store } = await open();
    for (const record of records) store.record(record);
    await store.flush();
    return store;
  }

  it('writes a record and reads it back unchanged', async () => {
    const { store, database } = await open();
    const record = usageRecord({
      time: new Date('2026-05-06T07:08:09.123Z'),
      user: 'end-user-7',
      status: 'error',
      errorCode: 'UPSTREAM_TIMEOUT',
      cachedTokens: 64,
      estimated: true,
      costUsd: 0.000123456789,
      savedUsd: 0.5,
      priced: false,
      latencyMs: 1234.5,
      ttftMs: 87.25,
      cacheHit: true,
      attempts: 3,
      stream: true,
      prompt: '[{"role":"user","content":"héllo"}]',
      response: 'wörld',
    });
    store.record(record);
    await store.flush();
    expect(store.stats()).toEqual({ queued: 0, dropped: 0, written: 1 });

    const reader = await openDatabase(database.url);
    disposers.push(() => reader.db.destroy());
    const rows = await reader.db.selectFrom('usage_records').selectAll().execute();
    expect(rows.map(fromRow)).toEqual([record]);
  });

  it('batches many records into few multi-row inserts', async () => {
    const inserts = insertCounter();
    const { store } = await open({ log: inserts.log, batchSize: 500, flushIntervalMs: 60_000 });
    for (let i = 0; i < 1200; i++) store.record(usageRecord());
    await store.flush();
    expect(inserts.rowsPerInsert).toEqual([500, 500, 200]);
    expect((await store.query({}, [])).requests).toBe(1200);
  });

  it('writes on its own every flushIntervalMs', async () => {
    const inserts = insertCounter();
    const { store } = await open({ log: inserts.log, flushIntervalMs: 20 });
    const inserted = inserts.nextInsert();
    for (let i = 0; i < 3; i++) store.record(usageRecord());
    expect(inserts.rowsPerInsert).toEqual([]);
    await inserted;
    expect(inserts.rowsPerInsert).toEqual([3]);
    expect((await store.query({}, [])).requests).toBe(3);
  });

  it('filters by time (from inclusive, to exclusive), client, user, provider and model', async () => {
    const store = await filled();
    const count = async (filter: Parameters<UsageStore['query']>[0]) =>
      (await store.query(filter, [])).requests;
    expect(await count({})).toBe(4);
    expect(
      await count({ from: new Date('2026-03-01T11:59:59Z'), to: new Date('2026-03-02T09:00:00Z') }),
    ).toBe(1);
    expect(await count({ from: new Date('2026-03-02T09:00:00Z') })).toBe(2);
    expect(await count({ clientId: 'a' })).toBe(2);
    expect(await count({ clientId: 'nobody' })).toBe(0);
    expect(await count({ user: 'u1' })).toBe(2);
    expect(await count({ provider: 'openai' })).toBe(2);
    expect(await count({ model: 'gpt-4o' })).toBe(1);
    expect(await count({ clientId: 'b', user: 'u1', from: new Date('2026-03-02T00:00:00Z') })).toBe(
      1,
    );
  });

  it.each(UsageDimensions)(
    'groups by %s, other dimensions null, totals the sum of groups',
    async (dimension) => {
      const store = await filled();
      const report = await store.query({}, [dimension]);
      expect(report.groups.map((g) => [g[field[dimension]], g.requests])).toEqual(
        expectedGroups[dimension],
      );
      for (const group of report.groups) {
        for (const other of UsageDimensions.filter((d) => d !== dimension)) {
          expect(group[field[other]], other).toBeNull();
        }
      }
      expectTotalsAreSums(report);
    },
  );

  it('groups by several dimensions at once', async () => {
    const store = await filled();
    const report = await store.query({}, ['DAY', 'CLIENT', 'PROVIDER']);
    expect(report.groups.map((g) => [g.day, g.clientId, g.provider, g.requests, g.errors])).toEqual(
      [
        ['2026-03-01', 'a', 'anthropic', 1, 1],
        ['2026-03-01', 'a', 'openai', 1, 0],
        ['2026-03-02', 'b', 'openai', 1, 0],
        ['2026-03-02', 'b', null, 1, 1],
      ],
    );
    expectTotalsAreSums(report);
  });

  it('adds up requests, errors, cache hits, tokens, cost and savings', async () => {
    const store = await filled();
    const report = await store.query({}, []);
    expect(report).toMatchObject({
      requests: 4,
      errors: 2,
      cacheHits: 1,
      promptTokens: 140,
      completionTokens: 14,
      groups: [],
    });
    expect(report.costUsd).toBeCloseTo(0.01, 12);
    expect(report.savedUsd).toBeCloseTo(0.02, 12);
  });

  it('gives an empty report with null percentiles when nothing matches', async () => {
    const store = await filled();
    expect(await store.query({ clientId: 'nobody' }, ['CLIENT'])).toEqual({
      requests: 0,
      errors: 0,
      cacheHits: 0,
      promptTokens: 0,
      completionTokens: 0,
      costUsd: 0,
      savedUsd: 0,
      latencyP50Ms: null,
      latencyP95Ms: null,
      groups: [],
    });
  });

  it('computes latency p50 and p95 like percentile_cont, overall and per group', async () => {
    const latencies = { a: [] as number[], b: [] as number[] };
    const records: UsageRecord[] = [];
    for (let i = 0; i < 203; i++) {
      const clientId = i % 3 === 0 ? 'b' : 'a';
      const latencyMs = ((i * 7919) % 1000) + (i % 4) * 0.25;
      latencies[clientId].push(latencyMs);
      records.push(usageRecord({ clientId, latencyMs }));
    }
    const store = await filled(records);
    const report = await store.query({}, ['CLIENT']);
    const all = [...latencies.a, ...latencies.b];
    expect(report.latencyP50Ms).toBeCloseTo(percentileCont(all, 0.5)!, 9);
    expect(report.latencyP95Ms).toBeCloseTo(percentileCont(all, 0.95)!, 9);
    const [a, b] = report.groups;
    expect(a?.latencyP50Ms).toBeCloseTo(percentileCont(latencies.a, 0.5)!, 9);
    expect(a?.latencyP95Ms).toBeCloseTo(percentileCont(latencies.a, 0.95)!, 9);
    expect(b?.latencyP50Ms).toBeCloseTo(percentileCont(latencies.b, 0.5)!, 9);
    expect(b?.latencyP95Ms).toBeCloseTo(percentileCont(latencies.b, 0.95)!, 9);
    // An interpolated value, not one of the samples: the p95 of 1..4 is 3.85.
    const small = await filled([1, 2, 3, 4].map((latencyMs) => usageRecord({ latencyMs })));
    expect((await small.query({}, [])).latencyP95Ms).toBeCloseTo(3.85, 12);
  });

  it('sums the cost per client since a time', async () => {
    const store = await filled([
      usageRecord({ clientId: 'a', costUsd: 1, time: new Date('2026-03-01T00:00:00Z') }),
      usageRecord({ clientId: 'a', costUsd: 0.25, time: new Date('2026-03-05T00:00:00Z') }),
      usageRecord({ clientId: 'a', costUsd: 0.5, time: new Date('2026-03-06T00:00:00Z') }),
      usageRecord({ clientId: 'b', costUsd: 2, time: new Date('2026-03-07T00:00:00Z') }),
      usageRecord({ clientId: 'c', costUsd: 9, time: new Date('2026-02-01T00:00:00Z') }),
    ]);
    const spent = await store.spentSince(new Date('2026-03-05T00:00:00Z'));
    expect(Object.fromEntries(spent)).toEqual({ a: 0.75, b: 2 });
  });

  it('drops the oldest records beyond maxQueue, counts them and calls onDrop', async () => {
    const drops: number[] = [];
    const { store } = await open({
      maxQueue: 10,
      batchSize: 500,
      flushIntervalMs: 60_000,
      onDrop: (n) => drops.push(n),
    });
    const records = Array.from({ length: 15 }, (_, i) => usageRecord({ latencyMs: i }));
    for (const record of records) store.record(record);
    expect(store.stats()).toEqual({ queued: 10, dropped: 5, written: 0 });
    expect(drops.reduce((a, b) => a + b, 0)).toBe(5);
    await store.flush();
    expect(store.stats()).toEqual({ queued: 0, dropped: 5, written: 10 });
    // The newest ten were kept: latencies 5..14.
    const report = await store.query({}, []);
    expect(report.requests).toBe(10);
    expect(report.latencyP50Ms).toBe(9.5);
  });

  it('drops a row the database refuses, counts it, and still writes the rest', async () => {
    const errors: unknown[] = [];
    const { store } = await open({ onError: (e) => errors.push(e) });
    store.record(usageRecord());
    store.record(usageRecord({ clientId: null as unknown as string }));
    store.record(usageRecord());
    await store.flush();
    expect(store.stats()).toEqual({ queued: 0, dropped: 1, written: 2 });
    expect(errors).toHaveLength(1);
    expect((await store.query({}, [])).requests).toBe(2);
  });

  it('stores a record written twice (a retried batch) once', async () => {
    const { store } = await open();
    const record = usageRecord();
    store.record(record);
    await store.flush();
    store.record(record);
    await store.flush();
    expect((await store.query({}, [])).requests).toBe(1);
  });

  it('close() writes what was recorded before it', async () => {
    const { store, database } = await open({ flushIntervalMs: 60_000 });
    for (let i = 0; i < 7; i++) store.record(usageRecord());
    await store.close();
    const reopened = await createUsageStore({ url: database.url });
    disposers.push(() => reopened.close());
    expect((await reopened.query({}, [])).requests).toBe(7);
  });

  it('record() after close() is counted as dropped, never thrown', async () => {
    const drops: number[] = [];
    const { store } = await open({ onDrop: (n) => drops.push(n) });
    await store.close();
    expect(() => store.record(usageRecord())).not.toThrow();
    expect(store.stats().dropped).toBe(1);
    expect(drops).toEqual([1]);
  });
}

describe('usage store on SQLite', () => {
  storeSuite(async () => createSqliteDatabase());

  it('creates the folder, and a reopened file keeps its rows', async () => {
    const database = createSqliteDatabase();
    disposers.push(() => database.drop());
    expect(existsSync(database.path)).toBe(false);
    const first = await createUsageStore({ url: database.url });
    for (const record of fixture()) first.record(record);
    await first.close();
    expect(existsSync(database.path)).toBe(true);

    const second = await createUsageStore({ url: database.url });
    disposers.push(() => second.close());
    expect((await second.query({}, [])).requests).toBe(4);
  });

  it('runs in memory with sqlite::memory:', async () => {
    const store = await createUsageStore({ url: 'sqlite::memory:' });
    disposers.push(() => store.close());
    store.record(usageRecord());
    await store.flush();
    expect((await store.query({}, [])).requests).toBe(1);
  });

  it('refuses a url it does not know', async () => {
    await expect(createUsageStore({ url: 'mysql://localhost/x' })).rejects.toThrow(
      /sqlite: or postgres:/,
    );
  });
});

describePostgres('usage store on Postgres', pgReason, () => {
  let shared: TestDatabase | null = null;
  afterAll(async () => shared?.drop());
  storeSuite(async () => {
    shared ??= await createPostgresDatabase();
    await emptyPostgresDatabase(shared.url);
    return { url: shared.url, drop: async () => {} };
  });

  it('gives the same reports as SQLite on the same data', async () => {
    const records: UsageRecord[] = [];
    for (let i = 0; i < 500; i++) {
      records.push(
        usageRecord({
          time: new Date(Date.UTC(2026, 2, 1 + (i % 3), i % 24, i % 60)),
          clientId: `c${i % 4}`,
          user: i % 5 === 0 ? null : `u${i % 7}`,
          provider: i % 11 === 0 ? null : i % 2 ? 'openai' : 'mistral',
          model: `m${i % 3}`,
          status: i % 9 === 0 ? 'error' : 'ok',
          cacheHit: i % 13 === 0,
          latencyMs: ((i * 104729) % 5000) / 7,
          costUsd: (i % 17) / 1000,
          savedUsd: i % 13 === 0 ? 0.003 : 0,
        }),
      );
    }
    const reports = [];
    for (const make of [async () => createSqliteDatabase(), createPostgresDatabase]) {
      const database = await make();
      disposers.push(() => database.drop());
      const store = await createUsageStore({ url: database.url });
      disposers.push(() => store.close());
      for (const record of records) store.record(record);
      await store.flush();
      reports.push(
        await store.query({ from: new Date('2026-03-01T06:00:00Z') }, ['CLIENT', 'USER', 'HOUR']),
      );
    }
    const [sqlite, postgres] = reports as [UsageReport, UsageReport];
    expect(postgres.groups.length).toBeGreaterThan(50);
    // Sums of doubles may differ in the last bits with the order of addition; nothing else may.
    const close = (value: unknown): unknown =>
      typeof value === 'number'
        ? expect.closeTo(value, 9)
        : Array.isArray(value)
          ? value.map(close)
          : value && typeof value === 'object'
            ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, close(v)]))
            : value;
    expect(postgres).toEqual(close(sqlite));
  });
});
