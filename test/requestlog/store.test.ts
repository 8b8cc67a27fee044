/**
 * The request log store on its own, on SQLite and Postgres: retention deletes old entries in
 * small batches (their full-text rows with them), and a lagging store drops bodies first,
 * counted and alerted, while the usage rows of the same requests are all written.
 */
import { Writable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { sql } from 'kysely';
import { createAlerts } from '../../src/alerts.js';
import { outcomeOf } from '../../src/gateway/results.js';
import type { Caller } from '../../src/gateway/types.js';
import { bodyPolicyOf, dropAlerts } from '../../src/requestlog/listener.js';
import { createRequestLogStore, type RequestLogStore } from '../../src/requestlog/store.js';
import type { QueuedEntry } from '../../src/requestlog/types.js';
import { requestLogConfig } from '../../src/requestlog/config.js';
import { createUsageStore, type UsageStore } from '../../src/usage/store.js';
import { describeEachDatabase, useDisposers, usageRecord } from '../helpers/databases.js';

const DAY = 86_400_000;
const caller: Caller = { clientId: 'client-a', admin: false };
const policy = bodyPolicyOf(requestLogConfig.parse({}), []);

function entry(time: Date, text: string, withBodies = true): QueuedEntry {
  const record = usageRecord({ time });
  const outcome = outcomeOf(
    {
      requestId: record.requestId,
      caller,
      alias: 'fast',
      edge: 'graphql',
      request: { model: 'fast', messages: [{ role: 'user', content: text }], cache: 'DEFAULT' },
      bodies: true,
      trace: undefined,
    },
    false,
    { content: `echo ${text}`, finishReason: 'STOP' },
  );
  return { record, outcome, policy: withBodies ? policy : null };
}

await describeEachDatabase('the request log store', (makeDatabase) => {
  const dispose = useDisposers();

  async function open(
    options: Partial<Parameters<typeof createRequestLogStore>[0]> = {},
  ): Promise<{ usage: UsageStore; log: RequestLogStore }> {
    const database = await makeDatabase();
    dispose(() => database.drop());
    const usage = await createUsageStore({ url: database.url });
    dispose(() => usage.close());
    const log = createRequestLogStore({
      database: usage.database,
      retentionDays: 7,
      sweepIntervalMs: 0,
      ...options,
    });
    dispose(() => log.close());
    return { usage, log };
  }

  it('deletes entries older than the retention, in small batches, with their search rows', async () => {
    const { usage, log } = await open({ sweepBatch: 2 });
    const now = new Date();
    for (let i = 0; i < 5; i++)
      log.record(entry(new Date(now.getTime() - 10 * DAY), `old${i} aardvark`));
    log.record(entry(new Date(now.getTime() - 6 * DAY), 'recent aardvark'));
    log.record(entry(now, 'fresh aardvark'));
    await log.flush();
    expect(await log.list({ text: 'aardvark' }, 100)).toHaveLength(7);

    expect(await log.sweep(now)).toBe(5);
    const left = await log.list({}, 100);
    expect(left.map((e) => e.time.getTime()).sort()).toEqual(
      [now.getTime() - 6 * DAY, now.getTime()].sort(),
    );
    expect(await log.list({ text: 'old0' }, 100)).toEqual([]);
    if (usage.database.dialect === 'sqlite') {
      const fts = usage.database.sqlite.prepare('select count(*) as n from request_log_fts').get();
      expect(fts).toEqual({ n: 2 });
    } else {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from request_log`.execute(
        usage.database.db,
      );
      expect(rows[0]!.n).toBe(2);
    }
    // Nothing more is old: a second sweep deletes nothing.
    expect(await log.sweep(now)).toBe(0);
  });

  it('keeps small bodies as they are and deflates large ones, in one batch, in its order', async () => {
    const { usage, log } = await open();
    const long = 'pangolin '.repeat(400);
    const entries = [
      entry(new Date(), 'small one'),
      entry(new Date(), long),
      entry(new Date(), 'small two'),
    ];
    for (const e of entries) log.record(e);
    await log.flush();
    const stored = await log.list({}, 10);
    expect(stored.map((e) => e.id)).toEqual(entries.map((e) => e.record.requestId).reverse());
    const { rows } = await sql<{ request_id: string; body: Uint8Array }>`
      select request_id, body from request_log`.execute(usage.database.db);
    const how = new Map(rows.map((row) => [row.request_id, row.body[0]]));
    expect(entries.map((e) => how.get(e.record.requestId))).toEqual([0, 1, 0]);
    const bodies = await log.bodies(stored.map((e) => e.seq));
    expect(stored.map((e) => bodies.get(e.seq)?.answer).reverse()).toEqual([
      'echo small one',
      `echo ${long}`,
      'echo small two',
    ]);
    expect(await log.list({ text: 'pangolin' }, 10)).toHaveLength(1);
  });

  it('drops bodies first when it lags (counted and alerted); usage rows are all written', async () => {
    const lines: string[] = [];
    const alerts = createAlerts(
      undefined,
      pino(
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            lines.push(chunk.toString());
            callback();
          },
        }),
      ),
    );
    const drops: [string, number][] = [];
    const alert = dropAlerts(alerts);
    const { usage, log } = await open({
      maxQueue: 2,
      onDrop: (what, count) => {
        drops.push([what, count]);
        alert(what, count);
      },
    });
    const entries = [0, 1, 2, 3].map((i) => entry(new Date(), `lagging ${i}`));
    for (const e of entries) {
      usage.record(e.record);
      log.record(e);
    }
    expect(drops).toEqual([
      ['bodies', 1],
      ['bodies', 1],
    ]);
    expect(log.stats()).toMatchObject({ bodiesDropped: 2, entriesDropped: 0 });
    const alerted = lines.filter((line) => line.includes('alert: request_log_dropped'));
    expect(alerted).toHaveLength(1);
    expect(JSON.parse(alerted[0]!).alert).toMatchObject({ bodies: 1, entries: 0 });

    await log.flush();
    await usage.flush();
    const stored = await log.list({}, 10);
    expect(stored.map((e) => [e.id, e.bodiesDropped])).toEqual(
      entries.map((e, i) => [e.record.requestId, i >= 2]).reverse(),
    );
    const bodies = await log.bodies(stored.map((e) => e.seq));
    expect([...bodies.values()].filter((b) => b === null)).toHaveLength(2);
    expect((await usage.query({}, [])).requests).toBe(4);
  });

  it('lets go of the entries of a batch once it is written', async () => {
    // Kept by the queue until a compaction a thousand pushes on, they outlived the young
    // generation under load and were promoted, with the request's objects they point at.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { log } = await open({ batchSize: 100 });
    const outcomes = (() => {
      const refs: WeakRef<object>[] = [];
      for (let i = 0; i < 300; i++) {
        const queued = entry(new Date(), `released ${i}`);
        refs.push(new WeakRef(queued.outcome));
        log.record(queued);
      }
      return refs;
    })();
    await log.flush();
    // A task on: a WeakRef's target is held until the task that made it has ended.
    await setImmediate();
    gc();
    expect(outcomes.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });
});
