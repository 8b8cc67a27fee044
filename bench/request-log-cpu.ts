/**
 * `node --import tsx bench/request-log-cpu.ts [entries] [sqlite|postgres]`: the CPU the request
 * log spends per request, in process: entries like the `requestlog` bench section's (a system
 * and a user message, a 20-word answer, the bench's config secrets) prepared (redacted, capped,
 * serialised) and written in batches of 200 (SQLite by default, with its FTS5 row; or Postgres at
 * `DATABASE_URL_PG`, a schema of its own, dropped after). Prints µs of CPU (user + system of this
 * process, all threads) per entry for the preparing, the writing, and both through the store as
 * the gateway queues them, to set beside Conduit's CPU per request (`bench/profile.ts`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { newRequestId } from '../src/gateway/ids.js';
import { outcomeOf } from '../src/gateway/results.js';
import type { Caller } from '../src/gateway/types.js';
import { requestLogConfig } from '../src/requestlog/config.js';
import { createInsert } from '../src/requestlog/insert.js';
import { bodyPolicyOf } from '../src/requestlog/listener.js';
import { prepareRows } from '../src/requestlog/prepare.js';
import { createRequestLogStore } from '../src/requestlog/store.js';
import type { QueuedEntry } from '../src/requestlog/types.js';
import { createUsageStore } from '../src/usage/store.js';
import type { UsageRecord } from '../src/usage/store-types.js';
import { key } from './targets.js';

const count = Number(process.argv[2] ?? 20_000);
const dialect = process.argv[3] ?? 'sqlite';
const BATCH = 200;

const caller: Caller = { clientId: 'bench', admin: false };
// The bench's config: its provider key (too short to be masked as a literal) and client key.
const policy = bodyPolicyOf(requestLogConfig.parse({ enabled: true }), ['sk-mock', key]);
const answer = Array.from({ length: 20 }, (_, i) => `word${i} `).join('');

function entry(i: number): QueuedEntry {
  const requestId = newRequestId();
  const record: UsageRecord = {
    time: new Date(),
    requestId,
    clientId: 'bench',
    user: null,
    alias: 'mock/gpt-4o-mini',
    provider: 'mock',
    model: 'gpt-4o-mini',
    status: 'ok',
    errorCode: null,
    promptTokens: 24,
    completionTokens: 20,
    cachedTokens: 0,
    estimated: false,
    costUsd: 0.00002,
    savedUsd: 0,
    priced: true,
    latencyMs: 3.2,
    ttftMs: null,
    cacheHit: false,
    cacheKind: null,
    similarity: null,
    attempts: 1,
    stream: false,
    prompt: null,
    response: null,
    route: 'chat_completions',
  };
  const outcome = outcomeOf(
    {
      requestId,
      caller,
      alias: 'mock/gpt-4o-mini',
      edge: 'chat_completions',
      request: {
        model: 'mock/gpt-4o-mini',
        messages: [
          { role: 'system', content: 'You are a terse assistant.' },
          { role: 'user', content: `Say twenty words [${i}]` },
        ],
        maxTokens: 64,
        cache: 'DEFAULT',
      },
      bodies: true,
      trace: undefined,
    },
    false,
    {
      provider: 'mock',
      model: 'gpt-4o-mini',
      content: answer,
      finishReason: 'STOP',
      latencyMs: 3.2,
      attempts: [
        { provider: 'mock', model: 'gpt-4o-mini', status: 'ok', error: null, latencyMs: 3.1 },
      ],
    },
  );
  return { record, outcome, policy };
}

const cpuUs = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const dir = mkdtempSync(join(tmpdir(), 'conduit-logcpu-'));
const pgUrl = process.env.DATABASE_URL_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const pgName = `conduit_logcpu_${randomBytes(6).toString('hex')}`;
async function pgAdmin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
let url = `sqlite:${join(dir, 'usage.db')}`;
if (dialect === 'postgres') {
  await pgAdmin(`create database ${pgName}`);
  const parsed = new URL(pgUrl);
  parsed.pathname = `/${pgName}`;
  url = parsed.toString();
}
const usage = await createUsageStore({ url });
try {
  const insert = createInsert(usage.database, (error) => {
    throw error;
  });

  // Warm-up: the same work, unmeasured, so that the figures are of optimised code.
  for (let i = 0; i < 4_000; i += BATCH) {
    const rows = await prepareRows(Array.from({ length: BATCH }, (_, j) => entry(i + j)));
    await insert(rows);
  }

  // Batch by batch, as the store's writer takes them: only one batch's entries alive at a time.
  let prepareSpent = 0;
  let insertSpent = 0;
  for (let i = 0; i < count; i += BATCH) {
    const batch = Array.from({ length: BATCH }, (_, j) => entry(i + j));
    let start = cpuUs();
    const rows = await prepareRows(batch);
    prepareSpent += cpuUs() - start;
    start = cpuUs();
    await insert(rows);
    insertSpent += cpuUs() - start;
  }
  const prepareUs = prepareSpent / count;
  const insertUs = insertSpent / count;

  // Through the store: queued one by one (the entries made beforehand, not counted), written by
  // its writer in its batches.
  const store = createRequestLogStore({
    database: usage.database,
    retentionDays: 7,
    sweepIntervalMs: 0,
    maxQueue: count * 2,
  });
  const again = Array.from({ length: count }, (_, i) => entry(i));
  const start = cpuUs();
  for (const e of again) store.record(e);
  await store.flush();
  const storeUs = (cpuUs() - start) / count;
  await store.close();

  console.log(
    `${dialect}, ${count} entries: prepare ${prepareUs.toFixed(1)} µs, insert ${insertUs.toFixed(1)} µs, ` +
      `sum ${(prepareUs + insertUs).toFixed(1)} µs; through the store ${storeUs.toFixed(1)} µs per entry`,
  );
} finally {
  await usage.close();
  rmSync(dir, { recursive: true, force: true });
  if (dialect === 'postgres') await pgAdmin(`drop database if exists ${pgName} with (force)`);
}
