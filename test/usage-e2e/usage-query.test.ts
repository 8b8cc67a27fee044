/**
 * The `usage` query end to end, on SQLite and Postgres: real requests through Conduit to a fake
 * OpenAI with known prices, then reports by every dimension, filters, percentiles, cache
 * savings, unpriced models, the batched Client lookup and what a non-admin may see.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { describeEachDatabase, type TestDatabase } from '../helpers/databases.js';
import { bearer, COMPLETE, readRows, type Row } from './harness.js';

const ADMIN = 'ck-admin-usage-query-0001';
const WEB = 'ck-web-usage-query-0002';
const MOBILE = 'ck-mobile-usage-query-0003';
const UPSTREAM_KEY = 'sk-upstream-usage-query-0004';

/** gpt-4o-mini's built-in price, USD per token: input, cached input, output. */
const price = { input: 0.15e-6, cached: 0.075e-6, output: 0.6e-6 };
const cost = (prompt: number, completion: number, cached = 0) =>
  (prompt - cached) * price.input + cached * price.cached + completion * price.output;

const TOTALS =
  'requests errors cacheHits promptTokens completionTokens costUsd savedUsd latencyP50Ms latencyP95Ms';
const USAGE = /* GraphQL */ `
  query ($filter: UsageFilter, $groupBy: [UsageDimension!]) {
    usage(filter: $filter, groupBy: $groupBy) {
      ${TOTALS}
      groups { ${TOTALS} client { id admin } user provider model day hour }
    }
  }
`;

await describeEachDatabase('the usage query', (makeDatabase) => {
  let database: TestDatabase;
  let fake: ProviderFake;
  let gw: TestConduit;
  const firstCost = cost(10, 2);

  const ask = async (key: string, input: Record<string, unknown>) => {
    const { body } = await gql(
      gw.graphqlUrl,
      COMPLETE,
      {
        input: {
          model: 'up/gpt-4o-mini',
          messages: [{ role: 'USER', content: 'hi' }],
          cache: 'BYPASS',
          ...input,
        },
      },
      bearer(key),
    );
    return body;
  };
  const usage = async (key: string, variables: Record<string, unknown> = {}) =>
    (await gql(gw.graphqlUrl, USAGE, variables, bearer(key))).body;

  beforeAll(async () => {
    database = await makeDatabase();
    fake = await createOpenAIFake({ keys: [UPSTREAM_KEY] });
    gw = await startConduit({
      database: { url: database.url },
      providers: {
        up: { type: 'openai', baseUrl: fake.baseUrl, keys: [UPSTREAM_KEY] },
        demo: { type: 'echo' },
      },
      clients: [
        { id: 'ops', key: ADMIN, admin: true },
        { id: 'web', key: WEB },
        { id: 'mobile', key: MOBILE },
      ],
      retry: { attempts: 1 },
    });
    fake.next(
      { usage: { prompt: 100, completion: 10 } },
      { usage: { prompt: 200, completion: 20 } },
      { usage: { prompt: 50, completion: 5 } },
      { usage: { prompt: 1000, completion: 100, cached: 400 } },
      { fail: 'server' },
      { usage: { prompt: 10, completion: 2 } },
      { usage: { prompt: 7, completion: 1 } },
    );
    expect((await ask(WEB, { user: 'alice' })).data.complete.costUsd).toBeCloseTo(
      cost(100, 10),
      15,
    );
    await ask(WEB, { user: 'alice' });
    await ask(WEB, { user: 'bob' });
    await ask(MOBILE, {});
    expect((await ask(MOBILE, { model: 'demo/echo' })).data.complete.costUsd).toBe(0);
    expect((await ask(WEB, {})).errors?.[0].extensions.code).toBe('UPSTREAM_ERROR');
    // The same request twice with the cache on: the second is a hit that costs nothing.
    const cached = { cache: 'DEFAULT', messages: [{ role: 'USER', content: 'cache me' }] };
    expect((await ask(WEB, cached)).data.complete).toMatchObject({
      cached: false,
      costUsd: firstCost,
    });
    expect((await ask(WEB, cached)).data.complete).toMatchObject({ cached: true, costUsd: 0 });
    // A model nobody priced: cost 0, flagged as unpriced, never guessed.
    expect((await ask(WEB, { model: 'up/mystery-1' })).data.complete.costUsd).toBe(0);
  });

  afterAll(async () => {
    await gw?.stop();
    await fake?.close();
    await database?.drop();
  });

  it('totals every request, its tokens and its exact cost', async () => {
    const { data } = await usage(ADMIN);
    expect(data.usage).toMatchObject({
      requests: 9,
      errors: 1,
      cacheHits: 1,
      groups: [],
    });
    const echoed = (await readRows(database.url)).find((r) => r.provider === 'demo')!;
    expect(data.usage.promptTokens).toBe(1377 + Number(echoed.prompt_tokens));
    expect(data.usage.costUsd).toBeCloseTo(
      cost(100, 10) + cost(200, 20) + cost(50, 5) + cost(1000, 100, 400) + firstCost,
      15,
    );
    expect(data.usage.savedUsd).toBeCloseTo(firstCost, 15);
    expect(data.usage.latencyP50Ms).toBeGreaterThan(0);
    expect(data.usage.latencyP95Ms).toBeGreaterThanOrEqual(data.usage.latencyP50Ms);
  });

  it('stores one row per request with its usage, and flags a model without a price', async () => {
    const rows = await readRows(database.url);
    expect(rows).toHaveLength(9);
    const byCost = (r: Row) => r.model === 'mystery-1';
    expect(rows.find(byCost)).toMatchObject({ cost_usd: 0, priced: 0, status: 'ok' });
    expect(rows.find((r) => Number(r.cached_tokens) === 400)).toMatchObject({
      client_id: 'mobile',
      prompt_tokens: 1000,
      completion_tokens: 100,
      estimated: 0,
      priced: 1,
      attempts: 1,
    });
    const hit = rows.find((r) => r.cache_hit === 1)!;
    expect(hit.cost_usd).toBe(0);
    expect(Number(hit.saved_usd)).toBeCloseTo(firstCost, 15);
    expect(rows.find((r) => r.status === 'error')).toMatchObject({
      client_id: 'web',
      error_code: 'UPSTREAM_ERROR',
      provider: 'up',
      model: 'gpt-4o-mini',
    });
    // logging.bodies is off: no prompt, no answer.
    expect(rows.every((r) => r.prompt === null && r.response === null)).toBe(true);
  });

  it('groups by client, resolving every Client in one batched lookup', async () => {
    const batches = () => gw.logs.filter((line) => line.includes('client lookup batch'));
    const before = batches().length;
    const { data } = await usage(ADMIN, { groupBy: ['CLIENT'] });
    const added = batches().slice(before);
    expect(added).toHaveLength(1);
    expect(JSON.parse(added[0]!)).toMatchObject({ clients: 2 });
    expect(data.usage.groups.map((g: any) => [g.client.id, g.requests, g.user])).toEqual([
      ['mobile', 2, null],
      ['web', 7, null],
    ]);
    const mobile = data.usage.groups[0];
    expect(mobile.costUsd).toBeCloseTo(cost(1000, 100, 400), 15);
    expect(mobile.latencyP95Ms).toBeGreaterThanOrEqual(mobile.latencyP50Ms);
  });

  it('groups by user, provider and model, day and hour', async () => {
    const byUser = (await usage(ADMIN, { groupBy: ['USER'], filter: { client: 'web' } })).data;
    expect(byUser.usage.groups.map((g: any) => [g.user, g.requests])).toEqual([
      ['alice', 2],
      ['bob', 1],
      [null, 4],
    ]);
    expect(byUser.usage.groups[0].costUsd).toBeCloseTo(cost(100, 10) + cost(200, 20), 15);

    const byModel = (await usage(ADMIN, { groupBy: ['PROVIDER', 'MODEL'] })).data;
    expect(
      byModel.usage.groups.map((g: any) => [g.provider, g.model, g.requests, g.client]),
    ).toEqual([
      ['demo', 'echo', 1, null],
      ['up', 'gpt-4o-mini', 7, null],
      ['up', 'mystery-1', 1, null],
    ]);

    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    const byTime = (await usage(ADMIN, { groupBy: ['DAY', 'HOUR'] })).data;
    const hours = byTime.usage.groups.map((g: any) => g.hour);
    expect(byTime.usage.groups.every((g: any) => g.day === day)).toBe(true);
    expect(hours.every((h: string) => h.startsWith(`${day}T`) && h.endsWith(':00:00Z'))).toBe(true);
    expect(byTime.usage.groups.reduce((n: number, g: any) => n + g.requests, 0)).toBe(9);
  });

  it('filters by time range, client, user, provider and model', async () => {
    const count = async (filter: Record<string, unknown>) =>
      (await usage(ADMIN, { filter })).data.usage.requests;
    expect(await count({ client: 'mobile' })).toBe(2);
    expect(await count({ user: 'alice' })).toBe(2);
    expect(await count({ provider: 'demo' })).toBe(1);
    expect(await count({ model: 'gpt-4o-mini', client: 'web' })).toBe(6);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const inAMinute = new Date(Date.now() + 60_000).toISOString();
    expect(await count({ from: hourAgo, to: inAMinute })).toBe(9);
    expect(await count({ from: inAMinute })).toBe(0);
    expect(await count({ to: hourAgo })).toBe(0);
  });

  it('shows a non-admin only its own client', async () => {
    const own = (await usage(MOBILE, { groupBy: ['CLIENT'] })).data.usage;
    expect(own.requests).toBe(2);
    expect(own.groups.map((g: any) => g.client.id)).toEqual(['mobile']);
    const other = await usage(MOBILE, { filter: { client: 'web' } });
    expect(other.errors?.[0].extensions.code).toBe('FORBIDDEN');
    expect(other.data).toBeNull();
    const viewer = await gql(gw.graphqlUrl, '{ viewer { id spentUsd } }', {}, bearer(WEB));
    expect(viewer.body.data.viewer.spentUsd).toBeCloseTo(
      cost(100, 10) + cost(200, 20) + cost(50, 5) + firstCost,
      15,
    );
  });
});
