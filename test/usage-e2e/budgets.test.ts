/**
 * Budgets end to end, on SQLite and Postgres: many requests at once against a nearly spent
 * budget never overspend it; each alert threshold reaches the webhook exactly once per period,
 * across a restart too; a spent budget is BUDGET_EXCEEDED (REST: 429 insufficient_quota); the
 * spend is seeded from the usage store at start. Then the same with two replicas sharing Redis.
 * Last, a budget is a hard cap: the answer's ceiling it pays for is the max_tokens sent upstream,
 * against an upstream that writes as long an answer as it is let, on one replica and on two.
 */
import { describe, expect, it } from 'vitest';
import { estimatePromptTokens } from '../../src/usage/tokens.js';
import { createOpenAIFake, isRecord, openaiCompletion, resolveReply } from '../fakes/openai.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { describeEachDatabase, createSqliteDatabase } from '../helpers/databases.js';
import { onDispose } from '../helpers/dispose.js';
import { createFakeUpstream } from '../helpers/fake-upstream.js';
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

/** The prompt every hard-cap request sends; the upstream reports the gateway's own estimate of it. */
const PROMPT = [{ role: 'user' as const, content: 'write at length' }];
const PROMPT_TOKENS = estimatePromptTokens(PROMPT);

/**
 * An OpenAI upstream that writes as long an answer as the request lets it: `max_completion_tokens`
 * (or `max_tokens`) tokens, 20,000 when neither was sent, after `delayMs`. It reports the prompt
 * as the gateway estimates it, so a budget may be passed by nothing at all.
 */
async function startVerboseOpenAI(delayMs = 20) {
  const upstream = await createFakeUpstream((call) => {
    const json = isRecord(call.json) ? call.json : {};
    const asked = json.max_completion_tokens ?? json.max_tokens;
    const completion = typeof asked === 'number' ? asked : 20_000;
    const reply = resolveReply(
      {
        text: 'word '.repeat(Math.min(completion, 50)).trim(),
        usage: { prompt: PROMPT_TOKENS, completion },
        finish: typeof asked === 'number' ? 'length' : 'stop',
      },
      call.json,
    );
    const body = JSON.stringify(openaiCompletion(reply));
    return {
      kind: 'stream',
      writes: [body.slice(0, 10), body.slice(10)],
      delayMs,
      headers: { 'content-type': 'application/json' },
    };
  });
  onDispose(() => upstream.close());
  /** The answer ceiling each call carried (undefined: none). */
  const ceilings = () =>
    upstream.calls.map((call) => {
      const json = isRecord(call.json) ? call.json : {};
      return (json.max_completion_tokens ?? json.max_tokens) as number | undefined;
    });
  return Object.assign(upstream, { baseUrl: `${upstream.url}/v1`, ceilings });
}

const CAP_KEY = 'ck-hard-cap-0001';

function startCapped(options: {
  baseUrl: string;
  url: string;
  usd: number;
  /** USD per million tokens. */
  price: { input: number; output: number };
  redis?: string;
}) {
  return startConduit({
    database: { url: options.url },
    ...(options.redis && { redis: { url: options.redis } }),
    providers: { up: { type: 'openai', baseUrl: options.baseUrl, keys: ['sk-up-cap'] } },
    pricing: { 'up/gpt-4o-mini': options.price },
    clients: [{ id: 'capped', key: CAP_KEY, budget: { usd: options.usd, period: 'day' } }],
    retry: { attempts: 1 },
  });
}

const askCapped = (gw: TestConduit, maxTokens?: number) =>
  gql(
    gw.graphqlUrl,
    COMPLETE,
    {
      input: {
        model: 'up/gpt-4o-mini',
        messages: PROMPT.map((m) => ({ role: 'USER', content: m.content })),
        cache: 'BYPASS',
        ...(maxTokens !== undefined && { maxTokens }),
      },
    },
    bearer(CAP_KEY),
  ).then((r) => r.body);

/** The cost of every answered request, as the usage store holds it. */
const recordedSpend = async (url: string) =>
  (await readRows(url))
    .filter((r) => r.status === 'ok')
    .reduce((sum, r) => sum + Number(r.cost_usd), 0);

/** Float sums of nano-dollar amounts: a hair of slack, nothing like a token's price. */
const HAIR = 1e-9;

describe('a budget is a hard cap', () => {
  /** $50 a million output tokens: the default ceiling of 4,096 tokens costs $0.2048. */
  const price = { input: 10, output: 50 };

  it('sends the ceiling it reserved upstream, so 20 requests at once spend $1 and not $19', async () => {
    const database = createSqliteDatabase();
    onDispose(() => database.drop());
    const upstream = await startVerboseOpenAI();
    const gw = await startCapped({ baseUrl: upstream.baseUrl, url: database.url, usd: 1, price });

    const answers = await Promise.all(Array.from({ length: 20 }, () => askCapped(gw)));
    const served = answers.filter((a) => a.data?.complete);
    const refused = answers.filter((a) => a.errors?.[0].extensions.code === 'BUDGET_EXCEEDED');
    expect(served.length + refused.length).toBe(20);
    expect(refused[0]!.errors![0].message).toMatch(/the daily budget of client "capped"/);
    // Four whole ceilings ($0.2049 with the prompt), then what the rest of $1 pays for.
    expect(upstream.ceilings().sort((a, b) => b! - a!)).toEqual([4096, 4096, 4096, 4096, 3606]);
    expect(served).toHaveLength(5);

    await gw.stop();
    const spent = await recordedSpend(database.url);
    expect(spent).toBeLessThanOrEqual(1 + HAIR);
    expect(spent).toBeGreaterThan(0.999);
  });

  it('lets a few cents of reservations each share a nearly untouched budget', async () => {
    const database = createSqliteDatabase();
    onDispose(() => database.drop());
    const upstream = await startVerboseOpenAI();
    // $500 a million output tokens: 128 tokens (and the prompt) are 6.5 cents.
    const pricey = { input: 100, output: 500 };
    expect(PROMPT_TOKENS * pricey.input * 1e-6).toBeCloseTo(0.001, 12); // 10 tokens
    const gw = await startCapped({
      baseUrl: upstream.baseUrl,
      url: database.url,
      usd: 1,
      price: pricey,
    });
    // $0.07 spent first: the prompt and 138 tokens.
    expect((await askCapped(gw, 138)).data.complete.costUsd).toBeCloseTo(0.07, 12);

    const answers = await Promise.all(Array.from({ length: 15 }, () => askCapped(gw, 128)));
    expect(answers.map((a) => a.errors?.[0].message ?? 'served')).toEqual(Array(15).fill('served'));
    // 14 whole asks ($0.91), and the last one the $0.02 left: the prompt and 38 tokens.
    const ceilings = upstream.ceilings().slice(1);
    expect(ceilings.sort((a, b) => b! - a!)).toEqual([...Array(14).fill(128), 38]);

    await gw.stop();
    const spent = await recordedSpend(database.url);
    expect(spent).toBeLessThanOrEqual(1 + HAIR);
    expect(spent).toBeGreaterThan(0.999);
  });

  it('keeps a client that asks for more than the budget pays for to the ceiling it pays for', async () => {
    const database = createSqliteDatabase();
    onDispose(() => database.drop());
    const upstream = await startVerboseOpenAI(0);
    const gw = await startCapped({
      baseUrl: upstream.baseUrl,
      url: database.url,
      usd: 0.10002,
      price,
    });
    // $0.10002 pays for the prompt ($0.0001) and 1,998 tokens, not 100,000.
    expect((await askCapped(gw, 100_000)).data.complete.usage.completionTokens).toBe(1998);
    // What is left pays for no useful answer: refused before any call, saying why.
    const refused = (await askCapped(gw, 100_000)).errors?.[0];
    expect(refused.extensions.code).toBe('BUDGET_EXCEEDED');
    expect(refused.message).toBe(
      'the daily budget of client "capped" ($0.10002) has $0.00002 left, too little for this prompt and an answer of 16 tokens',
    );
    expect(upstream.ceilings()).toEqual([1998]);
  });
});

describe('a streamed answer under a budget', () => {
  it('carries the ceiling the budget pays for too', async () => {
    const fake = await createOpenAIFake();
    onDispose(() => fake.close());
    const gw = await startCapped({
      baseUrl: fake.baseUrl,
      url: 'sqlite::memory:',
      usd: 0.01,
      price: { input: 10, output: 50 },
    });
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(CAP_KEY) },
      body: JSON.stringify({ model: 'up/gpt-4o-mini', messages: PROMPT, stream: true }),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('data: [DONE]');
    // $0.01 less the prompt pays for 198 tokens.
    expect(fake.upstream.calls[0]!.json).toMatchObject({
      stream: true,
      max_completion_tokens: 198,
    });
  });
});

describe('an answer cut short by a budget', () => {
  it('is not cached for a client that asked for no such ceiling', async () => {
    const upstream = await startVerboseOpenAI(0);
    const gw = await startConduit({
      providers: { up: { type: 'openai', baseUrl: upstream.baseUrl, keys: ['sk-up-cap'] } },
      pricing: { 'up/gpt-4o-mini': { input: 10, output: 50 } },
      cache: { scope: 'global' },
      clients: [
        { id: 'capped', key: CAP_KEY, budget: { usd: 0.01, period: 'day' } },
        { id: 'free', key: 'ck-free-0001' },
      ],
      retry: { attempts: 1 },
    });
    const ask = (key: string) =>
      gql(
        gw.graphqlUrl,
        COMPLETE,
        {
          input: {
            model: 'up/gpt-4o-mini',
            messages: [{ role: 'USER', content: PROMPT[0]!.content }],
          },
        },
        bearer(key),
      ).then((r) => r.body.data.complete);
    // $0.01 pays for 198 tokens: the answer stops there.
    expect((await ask(CAP_KEY)).usage.completionTokens).toBe(198);
    const whole = await ask('ck-free-0001');
    expect(whole.cached).toBe(false);
    expect(whole.usage.completionTokens).toBe(20_000);
    expect(upstream.ceilings()).toEqual([198, undefined]);
  });
});

describeRedis(
  'a budget is a hard cap across two replicas',
  () => {
    it('sends every call a ceiling the shared budget pays for: $1 is spent once', async () => {
      const redis = await startRedisServer(await freePort());
      onDispose(() => redis.kill());
      const database = createSqliteDatabase();
      onDispose(() => database.drop());
      const upstream = await startVerboseOpenAI();
      const options = {
        baseUrl: upstream.baseUrl,
        url: database.url,
        usd: 1,
        price: { input: 10, output: 50 },
        redis: redis.url,
      };
      const replicas = [await startCapped(options), await startCapped(options)];

      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => askCapped(replicas[i % 2]!)),
      );
      expect(answers.filter((a) => a.data?.complete)).toHaveLength(5);
      expect(
        answers.filter((a) => a.errors?.[0].extensions.code === 'BUDGET_EXCEEDED'),
      ).toHaveLength(15);
      expect(upstream.ceilings().sort((a, b) => b! - a!)).toEqual([4096, 4096, 4096, 4096, 3606]);

      for (const gw of replicas) await gw.stop();
      const spent = await recordedSpend(database.url);
      expect(spent).toBeLessThanOrEqual(1 + HAIR);
      expect(spent).toBeGreaterThan(0.999);
    });
  },
  { spawnsServers: true },
);
