import { describe, expect, it } from 'vitest';
import { createRedis } from '../../src/state/redis.js';
import { createSpendCounters, periodOf, type SpendCounters } from '../../src/state/spend.js';
import { describeRedis, redisUrl, useRedis } from '../helpers/redis.js';
import { spendSuite } from '../helpers/store-suite.js';

describe('periodOf', () => {
  const at = new Date('2026-11-29T23:59:59Z'); // a Sunday

  it('names UTC days, weeks (by their Monday) and months, with their ends', () => {
    expect(periodOf('day', at)).toEqual({
      key: '2026-11-29',
      endsAt: Date.parse('2026-11-30T00:00:00Z'),
    });
    expect(periodOf('week', at)).toEqual({
      key: 'W2026-11-23',
      endsAt: Date.parse('2026-11-30T00:00:00Z'),
    });
    expect(periodOf('month', at)).toEqual({
      key: '2026-11',
      endsAt: Date.parse('2026-12-01T00:00:00Z'),
    });
    expect(periodOf('month', new Date('2026-12-31T12:00:00Z')).endsAt).toBe(
      Date.parse('2027-01-01T00:00:00Z'),
    );
    expect(periodOf('week', new Date('2026-11-30T00:00:00Z')).key).toBe('W2026-11-30');
  });
});

let serial = 0;

/**
 * `reserveTokens`: the prompt and an answer ceiling, lowered to the room left, in one step. Each
 * test gets counters with a fresh prefix.
 */
function tokenSuite(make: (prefix: string) => SpendCounters): void {
  const day = periodOf('day');
  const fresh = () => make(`tokens${++serial}`);
  /** $0.01 of prompt, up to 100 answer tokens at $0.001, at least 16. */
  const ask = { promptUsd: 0.01, tokenUsd: 0.001, maxTokens: 100, minTokens: 16 };

  it('reserves the whole ask when the room pays for it', async () => {
    const spend = fresh();
    expect(await spend.reserveTokens('c', day, ask, 1)).toEqual({
      ok: true,
      tokens: 100,
      reservedUsd: 0.11,
    });
    expect(await spend.spent('c', day)).toBe(0.11);
  });

  it('lowers the ceiling to what the room left pays for, and fills the limit exactly', async () => {
    const spend = fresh();
    await spend.reserve('c', day, 0.95, 1);
    expect(await spend.reserveTokens('c', day, ask, 1)).toEqual({
      ok: true,
      tokens: 40,
      reservedUsd: 0.05,
    });
    expect(await spend.spent('c', day)).toBe(1);
  });

  it('refuses an answer shorter than the least useful one and takes nothing', async () => {
    const spend = fresh();
    await spend.reserve('c', day, 0.975, 1);
    // $0.025 left: the prompt and 15 tokens.
    expect(await spend.reserveTokens('c', day, ask, 1)).toEqual({ ok: false, spentUsd: 0.975 });
    expect(await spend.spent('c', day)).toBe(0.975);
    // A client that asked for fewer gets them.
    const few = { ...ask, maxTokens: 10, minTokens: 10 };
    expect(await spend.reserveTokens('c', day, few, 1)).toMatchObject({ ok: true, tokens: 10 });
  });

  it('keeps a price per token below a nano-dollar, and never rounds past the limit', async () => {
    const spend = fresh();
    // gpt-4o-mini's output: $0.60 a million tokens, 600 nano-dollars a token; then $0.15.
    const cheap = { promptUsd: 0, tokenUsd: 0.15e-6, maxTokens: 1e9, minTokens: 16 };
    const first = await spend.reserveTokens('c', day, { ...cheap, tokenUsd: 0.6e-6 }, 0.0005);
    expect(first).toMatchObject({ ok: true, tokens: 833 });
    const second = await spend.reserveTokens('c', day, cheap, 0.001);
    expect(second).toMatchObject({ ok: true, tokens: 3334 });
    const spent = await spend.spent('c', day);
    expect(spent).toBeLessThanOrEqual(0.001);
    expect(spent).toBeGreaterThan(0.001 - 0.15e-6);
  });

  it('counts budgets of millions of dollars', async () => {
    const spend = fresh();
    const big = { promptUsd: 200_000, tokenUsd: 100, maxTokens: 5000, minTokens: 16 };
    expect(await spend.reserveTokens('c', day, big, 1_000_000)).toMatchObject({ tokens: 5000 });
    expect(await spend.reserveTokens('c', day, big, 1_000_000)).toMatchObject({ tokens: 1000 });
    expect(await spend.spent('c', day)).toBe(1_000_000);
  });

  it('reserves no answer when the answer costs nothing, and refuses a spent budget', async () => {
    const spend = fresh();
    const free = { promptUsd: 0, tokenUsd: 0, maxTokens: 0, minTokens: 0 };
    expect(await spend.reserveTokens('c', day, free, 1)).toEqual({
      ok: true,
      tokens: 0,
      reservedUsd: 0,
    });
    await spend.reserve('c', day, 1, 1);
    expect(await spend.reserveTokens('c', day, free, 1)).toEqual({ ok: false, spentUsd: 1 });
  });

  it('never lets concurrent reservations pass the limit', async () => {
    const spend = fresh();
    const big = { promptUsd: 0, tokenUsd: 0.001, maxTokens: 1000, minTokens: 16 };
    const results = await Promise.all(
      Array.from({ length: 40 }, () => spend.reserveTokens('c', day, big, 7.5)),
    );
    const tokens = results.map((r) => (r.ok ? r.tokens : 0)).sort((a, b) => b - a);
    expect(tokens.slice(0, 9)).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, 500, 0]);
    expect(await spend.spent('c', day)).toBe(7.5);
  });
}

describe('SpendCounters in memory', () => {
  spendSuite(() => createSpendCounters());
  tokenSuite(() => createSpendCounters());

  it('answers at once, with no promise', () => {
    const spend = createSpendCounters();
    const ask = { promptUsd: 0, tokenUsd: 0.001, maxTokens: 100, minTokens: 16 };
    expect(spend.reserveTokens('c', periodOf('day'), ask, 1)).toMatchObject({ ok: true });
  });
});

describeRedis('SpendCounters in Redis', () => {
  const shared = useRedis();
  spendSuite((ns) =>
    createSpendCounters({ redis: shared.redis.client, prefix: `${shared.prefix}:${ns}` }),
  );
  tokenSuite((ns) =>
    createSpendCounters({ redis: shared.redis.client, prefix: `${shared.prefix}:${ns}` }),
  );

  it('gives two replicas answer ceilings that together fill the limit, never pass it', async () => {
    const other = await createRedis(redisUrl);
    try {
      const prefix = `${shared.prefix}:replica-tokens`;
      const replicas = [shared.redis.client, other.client].map((redis) =>
        createSpendCounters({ redis, prefix }),
      );
      const period = periodOf('month');
      const ask = { promptUsd: 0.05, tokenUsd: 0.001, maxTokens: 200, minTokens: 16 };
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => replicas[i % 2]!.reserveTokens('c', period, ask, 7.5)),
      );
      const granted = results.flatMap((r) => (r.ok ? [r] : []));
      // $0.25 each: 30 whole, then nothing left.
      expect(granted).toHaveLength(30);
      expect(granted.every((r) => r.tokens === 200)).toBe(true);
      expect(await replicas[1]!.spent('c', period)).toBe(7.5);
    } finally {
      await other.close();
    }
  });

  it('never passes the limit with many concurrent reservations from two replicas', async () => {
    const other = await createRedis(redisUrl);
    try {
      const prefix = `${shared.prefix}:replicas`;
      const replicas = [shared.redis.client, other.client].map((redis) =>
        createSpendCounters({ redis, prefix }),
      );
      const period = periodOf('month');
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => replicas[i % 2]!.reserve('c', period, 0.25, 7.5)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(30);
      expect(await replicas[1]!.spent('c', period)).toBe(7.5);
    } finally {
      await other.close();
    }
  });

  it('marks a key once across replicas and expires counters after their period', async () => {
    const other = await createRedis(redisUrl);
    try {
      const prefix = `${shared.prefix}:marks`;
      const [a, b] = [shared.redis.client, other.client].map((redis) =>
        createSpendCounters({ redis, prefix, graceMs: 60_000 }),
      );
      const marks = await Promise.all([a!.markOnce('budget:c:1'), b!.markOnce('budget:c:1')]);
      expect(marks.sort()).toEqual([false, true]);

      const period = periodOf('day');
      await a!.reserve('c', period, 1, 10);
      const ttl = await shared.redis.client.pTTL(`${prefix}:c:${period.key}`);
      expect(ttl).toBeGreaterThan(period.endsAt + 60_000 - Date.now() - 5_000);
      expect(ttl).toBeLessThanOrEqual(period.endsAt + 60_000 - Date.now() + 1_000);
    } finally {
      await other.close();
    }
  });
});
