/**
 * Budgets end to end, on SQLite and Postgres: many requests at once against a nearly spent
 * budget never overspend it; each alert threshold reaches the webhook exactly once per period,
 * across a restart too; a spent budget is BUDGET_EXCEEDED (REST: 429 insufficient_quota); the
 * spend is seeded from the usage store at start. Then the same with two replicas sharing Redis.
 */
import { expect, it } from 'vitest';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { describeEachDatabase, createSqliteDatabase } from '../helpers/databases.js';
import { onDispose } from '../helpers/dispose.js';
import { describeRedis, freePort, startRedisServer } from '../helpers/redis.js';
import {
  bearer,
  COMPLETE,
  readRows,
  startSlowOpenAI,
  startWebhook,
  type Webhook,
} from './harness.js';

const KEY = 'ck-budget-client-0001';
const TOKEN_PRICE = 0.001;
/** maxTokens 10 at $0.001 an output token, and the upstream answers with 10: $0.01 each. */
const EACH = 10 * TOKEN_PRICE;
const BUDGET = 0.05;

async function start(options: { url: string; webhook: Webhook; baseUrl: string; redis?: string }) {
  return startConduit({
    database: { url: options.url },
    ...(options.redis && { redis: { url: options.redis } }),
    providers: { up: { type: 'openai', baseUrl: options.baseUrl, keys: ['sk-up-budget'] } },
    pricing: { 'up/gpt-4o-mini': { input: 0, output: TOKEN_PRICE * 1e6 } },
    clients: [
      { id: 'team', key: KEY, budget: { usd: BUDGET, period: 'day', alertAt: [0.5, 0.8, 1] } },
    ],
    alerts: { webhookUrl: options.webhook.url },
    retry: { attempts: 1 },
  });
}

const ask = (gw: TestConduit) =>
  gql(
    gw.graphqlUrl,
    COMPLETE,
    {
      input: {
        model: 'up/gpt-4o-mini',
        messages: [{ role: 'USER', content: 'spend' }],
        maxTokens: 10,
        cache: 'BYPASS',
      },
    },
    bearer(KEY),
  ).then((r) => r.body);

const viewer = async (gw: TestConduit) =>
  (await gql(gw.graphqlUrl, '{ viewer { budget budgetPeriod spentUsd } }', {}, bearer(KEY))).body
    .data.viewer;

const thresholds = (webhook: Webhook) =>
  webhook.posts.map((p) => p.body.threshold).sort((a, b) => Number(a) - Number(b));

/** One more refused request and every POST settled: nothing else can still be on its way. */
async function settle(gw: TestConduit) {
  expect((await ask(gw)).errors?.[0].extensions.code).toBe('BUDGET_EXCEEDED');
  await gw.conduit.services.infra.alerts.settled();
}

await describeEachDatabase('budgets', (makeDatabase) => {
  it('lets concurrent requests spend a nearly spent budget exactly, never past it', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    const upstream = await startSlowOpenAI(20, { prompt: 5, completion: 10 });
    const webhook = await startWebhook();
    const gw = await start({ url: database.url, webhook, baseUrl: upstream.baseUrl });

    for (let i = 0; i < 2; i++) expect((await ask(gw)).data.complete.costUsd).toBeCloseTo(EACH, 12);
    expect(await viewer(gw)).toEqual({ budget: BUDGET, budgetPeriod: 'DAY', spentUsd: 0.02 });

    const answers = await Promise.all(Array.from({ length: 12 }, () => ask(gw)));
    const served = answers.filter((a) => a.data?.complete);
    const refused = answers.filter((a) => a.errors?.[0].extensions.code === 'BUDGET_EXCEEDED');
    expect(served).toHaveLength(3);
    expect(refused).toHaveLength(9);
    expect(refused[0]!.errors![0].extensions).toMatchObject({ budgetUsd: BUDGET });
    expect(refused[0]!.errors![0].extensions.spentUsd).toBeLessThanOrEqual(BUDGET);

    // REST speaks OpenAI: 429 insufficient_quota.
    const rest = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(KEY) },
      body: JSON.stringify({ model: 'up/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(rest.status).toBe(429);
    expect(((await rest.json()) as any).error).toMatchObject({
      type: 'insufficient_quota',
      code: 'insufficient_quota',
    });

    await webhook.received(3);
    await settle(gw);
    expect(thresholds(webhook)).toEqual([0.5, 0.8, 1]);
    const at80 = webhook.posts.find((p) => p.body.threshold === 0.8)!.body;
    expect(at80).toMatchObject({ type: 'budget', clientId: 'team', budgetUsd: BUDGET });
    // Spent counts what is reserved by requests in flight: at least 80 %, never past the budget.
    expect(at80.spentUsd).toBeGreaterThanOrEqual(0.04);
    expect(at80.spentUsd).toBeLessThanOrEqual(BUDGET);
    expect(webhook.posts.every((p) => p.headers['content-type'] === 'application/json')).toBe(true);
    expect(gw.logs.filter((l) => l.includes('"alert: budget"'))).toHaveLength(3);
    expect(await viewer(gw)).toMatchObject({ spentUsd: BUDGET });
    expect(upstream.calls).toHaveLength(5);

    await gw.stop();
    const rows = await readRows(database.url);
    const ok = rows.filter((r) => r.status === 'ok');
    expect(ok).toHaveLength(5);
    expect(ok.reduce((sum, r) => sum + Number(r.cost_usd), 0)).toBeCloseTo(BUDGET, 12);
    // 9 at once, 1 over REST, 1 more to settle.
    expect(rows.filter((r) => r.error_code === 'BUDGET_EXCEEDED')).toHaveLength(11);
  });

  it('seeds the spend from the store at start and alerts no threshold twice', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    const upstream = await startSlowOpenAI(0, { prompt: 5, completion: 10 });
    const webhook = await startWebhook();
    const first = await start({ url: database.url, webhook, baseUrl: upstream.baseUrl });
    for (let i = 0; i < 4; i++) await ask(first);
    await webhook.received(2);
    await first.stop();
    expect(thresholds(webhook)).toEqual([0.5, 0.8]);

    const second = await start({ url: database.url, webhook, baseUrl: upstream.baseUrl });
    expect((await viewer(second)).spentUsd).toBeCloseTo(0.04, 12);
    expect((await ask(second)).data.complete.costUsd).toBeCloseTo(EACH, 12);
    await webhook.received(3);
    await settle(second);
    expect(thresholds(webhook)).toEqual([0.5, 0.8, 1]);
    expect((await viewer(second)).spentUsd).toBeCloseTo(BUDGET, 12);
  });
});

describeRedis(
  'budgets shared by two replicas through Redis',
  () => {
    it('never overspends and alerts each threshold once across replicas', async () => {
      const redis = await startRedisServer(await freePort());
      onDispose(() => redis.kill());
      const database = createSqliteDatabase();
      onDispose(() => database.drop());
      const upstream = await startSlowOpenAI(20, { prompt: 5, completion: 10 });
      const webhook = await startWebhook();
      const options = { url: database.url, webhook, baseUrl: upstream.baseUrl, redis: redis.url };
      const replicas = [await start(options), await start(options)];

      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) => ask(replicas[i % 2]!)),
      );
      expect(answers.filter((a) => a.data?.complete)).toHaveLength(5);
      expect(
        answers.filter((a) => a.errors?.[0].extensions.code === 'BUDGET_EXCEEDED'),
      ).toHaveLength(11);
      await webhook.received(3);
      for (const gw of replicas) await settle(gw);
      expect(thresholds(webhook)).toEqual([0.5, 0.8, 1]);
      for (const gw of replicas) expect((await viewer(gw)).spentUsd).toBeCloseTo(BUDGET, 12);
    });
  },
  { spawnsServers: true },
);
