/**
 * The usage store on a million rows: how long writing them takes, and a few typical reports.
 * Runs on SQLite (a temp file) and, when reachable, on Postgres (`DATABASE_URL_PG`, a database
 * created for the run and dropped after).
 *
 *   node --import tsx bench/usage-query.ts [rows]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  createUsageStore,
  type UsageDimension,
  type UsageFilter,
  type UsageRecord,
} from '../src/usage/store.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const days = 90;
const end = Date.UTC(2026, 6, 1);
const start = end - days * 86_400_000;
const providers = ['openai', 'anthropic', 'gemini', 'mistral'];
const models = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'mistral-small'];

/** A small deterministic PRNG (mulberry32), so both databases get the same rows. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function* records(count: number): Generator<UsageRecord> {
  const next = random(42);
  for (let i = 0; i < count; i++) {
    const p = Math.floor(next() * providers.length);
    const error = next() < 0.03;
    const cacheHit = !error && next() < 0.1;
    yield {
      time: new Date(start + Math.floor((i / count) * days * 86_400_000)),
      requestId: `r${i}`,
      clientId: `client-${Math.floor(next() ** 2 * 50)}`,
      user: next() < 0.2 ? null : `user-${Math.floor(next() * 2000)}`,
      alias: 'default',
      provider: providers[p]!,
      model: models[(p + (next() < 0.5 ? 0 : 1)) % models.length]!,
      status: error ? 'error' : 'ok',
      errorCode: error ? 'UPSTREAM_ERROR' : null,
      promptTokens: Math.floor(next() * 4000),
      completionTokens: Math.floor(next() * 800),
      cachedTokens: 0,
      estimated: false,
      costUsd: next() / 100,
      savedUsd: cacheHit ? next() / 100 : 0,
      priced: true,
      latencyMs: cacheHit ? next() * 5 : 200 + -Math.log(1 - next()) * 800,
      ttftMs: null,
      cacheHit,
      route: 'graphql',
      attempts: 1,
      stream: next() < 0.5,
      prompt: null,
      response: null,
    };
  }
}

const queries: [string, UsageFilter, UsageDimension[]][] = [
  ['totals, all 90 days', {}, []],
  ['by DAY, all 90 days', {}, ['DAY']],
  ['by CLIENT, last 30 days', { from: new Date(end - 30 * 86_400_000) }, ['CLIENT']],
  [
    'one client by MODEL, last 7 days',
    { clientId: 'client-3', from: new Date(end - 7 * 86_400_000) },
    ['MODEL'],
  ],
  ['one client by DAY, all 90 days', { clientId: 'client-3' }, ['DAY']],
  ['by HOUR, one day', { from: new Date(end - 86_400_000), to: new Date(end) }, ['HOUR']],
  [
    'by PROVIDER, MODEL, DAY, last 30 days',
    { from: new Date(end - 30 * 86_400_000) },
    ['PROVIDER', 'MODEL', 'DAY'],
  ],
  ['one user, all 90 days', { user: 'user-7' }, []],
];

const ms = (since: bigint): string =>
  `${(Number(process.hrtime.bigint() - since) / 1e6).toFixed(0)} ms`;

async function run(name: string, url: string): Promise<void> {
  console.log(`\n${name}: ${rows.toLocaleString('en')} rows`);
  const store = await createUsageStore({ url, batchSize: 1000, maxQueue: rows });
  let recordNs = 0n;
  const began = process.hrtime.bigint();
  let i = 0;
  for (const record of records(rows)) {
    const t = process.hrtime.bigint();
    store.record(record);
    recordNs += process.hrtime.bigint() - t;
    // Let the writer run now and then, as a live gateway would between requests.
    if (++i % 50_000 === 0) await store.flush();
  }
  await store.flush();
  const stats = store.stats();
  console.log(
    `  write: ${ms(began)} (${stats.written.toLocaleString('en')} written, ${stats.dropped} dropped);` +
      ` record() itself: ${(Number(recordNs) / rows / 1000).toFixed(2)} µs per call`,
  );
  for (const [label, filter, groupBy] of queries) {
    await store.query(filter, groupBy); // warm
    const t = process.hrtime.bigint();
    const report = await store.query(filter, groupBy);
    console.log(
      `  ${label.padEnd(40)} ${ms(t).padStart(8)}  (${report.requests.toLocaleString('en')} requests, ${report.groups.length} groups, p95 ${report.latencyP95Ms?.toFixed(0)} ms)`,
    );
  }
  const t = process.hrtime.bigint();
  const spent = await store.spentSince(new Date(end - 30 * 86_400_000));
  console.log(
    `  ${'spentSince, last 30 days'.padEnd(40)} ${ms(t).padStart(8)}  (${spent.size} clients)`,
  );
  await store.close();
}

const folder = mkdtempSync(join(tmpdir(), 'conduit-bench-'));
try {
  await run('SQLite', `sqlite:${join(folder, 'usage.db')}`);
} finally {
  rmSync(folder, { recursive: true, force: true });
}

const pgUrl = process.env.DATABASE_URL_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
try {
  await admin.connect();
} catch (error) {
  console.log(`\nPostgres skipped: ${(error as Error).message}`);
  process.exit(0);
}
const name = `conduit_bench_${randomBytes(4).toString('hex')}`;
await admin.query(`create database ${name}`);
try {
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  await run('Postgres', url.toString());
} finally {
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
