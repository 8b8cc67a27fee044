import { expect, it } from 'vitest';
import {
  createUsageStore,
  UsageDimensions,
  type UsageDimension,
  type UsageRecord,
  type UsageReport,
  type UsageStore,
} from '../../src/usage/store.js';
import {
  createPostgresDatabase,
  createSqliteDatabase,
  describeEachDatabase,
  describePostgres,
  postgresUnavailable,
  usageRecord,
  useDisposers,
} from '../helpers/databases.js';

const dispose = useDisposers();

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
      route: 'messages',
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
      route: 'chat_completions',
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
  ROUTE: [
    ['chat_completions', 1],
    ['graphql', 2],
    ['messages', 1],
  ],
};

const field = {
  CLIENT: 'clientId',
  USER: 'user',
  PROVIDER: 'provider',
  MODEL: 'model',
  DAY: 'day',
  HOUR: 'hour',
  ROUTE: 'route',
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

await describeEachDatabase('usage store reports', (makeDatabase) => {
  async function filled(records = fixture()): Promise<UsageStore> {
    const database = await makeDatabase();
    dispose(() => database.drop());
    const store = await createUsageStore({ url: database.url });
    dispose(() => store.close());
    for (const record of records) store.record(record);
    await store.flush();
    return store;
  }

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
      semanticHits: 0,
      promptTokens: 0,
      completionTokens: 0,
      costUsd: 0,
      savedUsd: 0,
      semanticSavedUsd: 0,
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
    const one = await store.spentSince(new Date('2026-03-05T00:00:00Z'), 'b');
    expect(Object.fromEntries(one)).toEqual({ b: 2 });
  });
});

describePostgres('usage reports, SQLite against Postgres', await postgresUnavailable(), () => {
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
      dispose(() => database.drop());
      const store = await createUsageStore({ url: database.url });
      dispose(() => store.close());
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
