import { describe, expect, it } from 'vitest';
import { createRedis } from '../../src/state/redis.js';
import { createSpendCounters, periodOf } from '../../src/state/spend.js';
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

describe('SpendCounters in memory', () => {
  spendSuite(() => createSpendCounters());
});

describeRedis('SpendCounters in Redis', () => {
  const shared = useRedis();
  spendSuite((ns) =>
    createSpendCounters({ redis: shared.redis.client, prefix: `${shared.prefix}:${ns}` }),
  );

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
