/**
 * Real databases for tests: a temp SQLite file, or a fresh Postgres database per call (dropped
 * afterwards), so test files running in parallel never see each other's rows.
 *
 * The rule (ARCHITECTURE.md): when Postgres is absent, tests that need it fail loudly if
 * `process.env.CI` is set; elsewhere they are skipped, with the reason in their name.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, it } from 'vitest';
import type { UsageRecord } from '../../src/usage/store.js';

export const postgresUrl = process.env.DATABASE_URL_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  /** Removes the file or drops the database. */
  drop(): Promise<void>;
}

/** Null when Postgres answers, else why not. */
export async function postgresUnavailable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return `Postgres unreachable at ${redact(postgresUrl)}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

const redact = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

/**
 * `describe` for Postgres-backed tests: runs them when Postgres answers; otherwise fails in CI
 * and skips (with the reason) elsewhere.
 */
export function describePostgres(name: string, reason: string | null, body: () => void): void {
  if (reason === null) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it('needs Postgres (CI is set, so it must be there)', () => {
        throw new Error(`${reason}. Set DATABASE_URL_PG or start Postgres.`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${reason})`, body);
  }
}

/**
 * Registers `suite` twice: on SQLite (a new temp file per `makeDatabase()`), and on Postgres
 * (one database per file, emptied for each `makeDatabase()`), under `describePostgres`'s rule.
 */
export async function describeEachDatabase(
  name: string,
  suite: (makeDatabase: () => Promise<TestDatabase>) => void,
): Promise<void> {
  const reason = await postgresUnavailable();
  describe(`${name} on SQLite`, () => suite(async () => createSqliteDatabase()));
  describePostgres(`${name} on Postgres`, reason, () => {
    let shared: TestDatabase | null = null;
    afterAll(async () => shared?.drop());
    suite(async () => {
      shared ??= await createPostgresDatabase();
      await emptyPostgresDatabase(shared.url);
      return { url: shared.url, drop: async () => {} };
    });
  });
}

/** Cleanups run after each test, last registered first (servers, stores, databases). */
export function useDisposers(): (dispose: () => Promise<void>) => void {
  const disposers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const dispose of disposers.splice(0).reverse()) await dispose();
  });
  return (dispose) => void disposers.push(dispose);
}

/** A new, empty Postgres database on the server of `DATABASE_URL_PG`. */
export async function createPostgresDatabase(): Promise<TestDatabase> {
  const name = `conduit_test_${randomBytes(6).toString('hex')}`;
  await admin(`create database ${name}`);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(`drop database if exists ${name} with (force)`),
  };
}

/**
 * Empties every table of a test database but the migrations' own, so one database (CREATE
 * DATABASE takes about half a second) serves a whole test file.
 */
export async function emptyPostgresDatabase(url: string): Promise<void> {
  await admin(
    `do $$ declare t text; begin
       for t in select tablename from pg_tables
         where schemaname = 'public' and tablename not like 'kysely_migration%'
       loop execute format('truncate table %I', t); end loop;
     end $$`,
    url,
  );
}

async function admin(statement: string, url = postgresUrl): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A SQLite file in a new temp folder (the folder inside it is not created yet: the store must). */
export function createSqliteDatabase(): TestDatabase & { path: string } {
  const folder = mkdtempSync(join(tmpdir(), 'conduit-usage-'));
  const path = join(folder, 'data', 'usage.db');
  return {
    url: `sqlite:${path}`,
    path,
    drop: async () => rmSync(folder, { recursive: true, force: true }),
  };
}

let sequence = 0;

/** A complete usage record with plausible values; override what a test cares about. */
export function usageRecord(overrides: Partial<UsageRecord> = {}): UsageRecord {
  sequence += 1;
  return {
    time: new Date('2026-03-01T10:00:00Z'),
    requestId: `req-${process.pid}-${sequence}-${randomBytes(4).toString('hex')}`,
    clientId: 'client-a',
    user: null,
    alias: 'fast',
    provider: 'openai',
    model: 'gpt-4o-mini-2024-07-18',
    status: 'ok',
    errorCode: null,
    promptTokens: 100,
    completionTokens: 20,
    cachedTokens: 0,
    estimated: false,
    costUsd: 0.001,
    savedUsd: 0,
    priced: true,
    latencyMs: 100,
    ttftMs: null,
    cacheHit: false,
    cacheKind: null,
    similarity: null,
    attempts: 1,
    stream: false,
    prompt: null,
    response: null,
    route: 'graphql',
    ...overrides,
  };
}
