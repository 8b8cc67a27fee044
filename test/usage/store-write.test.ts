import { existsSync } from 'node:fs';
import type { LogEvent } from 'kysely';
import { describe, expect, it } from 'vitest';
import { fromRow, openDatabase, USAGE_COLUMNS } from '../../src/usage/store-db.js';
import { createUsageStore, type UsageStoreOptions } from '../../src/usage/store.js';
import {
  createSqliteDatabase,
  describeEachDatabase,
  usageRecord,
  useDisposers,
} from '../helpers/databases.js';

const dispose = useDisposers();

/** Counts the multi-row inserts into the usage table, as Kysely ran them. */
function insertCounter() {
  const rowsPerInsert: number[] = [];
  const waiters: (() => void)[] = [];
  const log = (event: LogEvent): void => {
    if (event.level !== 'query' || !/^insert into "usage_records"/.test(event.query.sql)) return;
    rowsPerInsert.push(event.query.parameters.length / USAGE_COLUMNS.length);
    for (const wake of waiters.splice(0)) wake();
  };
  const nextInsert = () => new Promise<void>((resolve) => waiters.push(resolve));
  return { log, rowsPerInsert, nextInsert };
}

await describeEachDatabase('usage store writes', (makeDatabase) => {
  async function open(options: Partial<UsageStoreOptions> = {}) {
    const database = await makeDatabase();
    dispose(() => database.drop());
    const store = await createUsageStore({ url: database.url, ...options });
    dispose(() => store.close().catch(() => {}));
    return { store, database };
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
      cacheKind: 'semantic',
      similarity: 0.9712,
      attempts: 3,
      stream: true,
      prompt: '[{"role":"user","content":"héllo"}]',
      response: 'wörld',
    });
    store.record(record);
    await store.flush();
    expect(store.stats()).toEqual({ queued: 0, dropped: 0, written: 1 });

    const reader = await openDatabase(database.url);
    dispose(() => reader.db.destroy());
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
    dispose(() => reopened.close());
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
});

describe('usage store on SQLite', () => {
  it('creates the folder, and a reopened file keeps its rows', async () => {
    const database = createSqliteDatabase();
    dispose(() => database.drop());
    expect(existsSync(database.path)).toBe(false);
    const first = await createUsageStore({ url: database.url });
    for (let i = 0; i < 4; i++) first.record(usageRecord());
    await first.close();
    expect(existsSync(database.path)).toBe(true);

    const second = await createUsageStore({ url: database.url });
    dispose(() => second.close());
    expect((await second.query({}, [])).requests).toBe(4);
  });

  it('runs in memory with sqlite::memory:', async () => {
    const store = await createUsageStore({ url: 'sqlite::memory:' });
    dispose(() => store.close());
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
