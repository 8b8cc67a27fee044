import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLimiter } from '../../src/state/limits.js';
import { createRedis } from '../../src/state/redis.js';
import { describeRedis, redisUrl, useRedis } from '../helpers/redis.js';
import { limiterSuite } from '../helpers/store-suite.js';

describe('Limiter in memory', () => {
  limiterSuite((ns, limits) => createLimiter({ prefix: ns, limits }));

  afterEach(() => vi.useRealTimers());

  it('opens a new window once the last has ended, and corrects only the window it took from', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-29T12:00:00Z'), toFake: ['Date'] });
    const limiter = createLimiter({ prefix: 'windows', limits: [{ tokens: 100, perSeconds: 60 }] });
    const first = await limiter.check('k', { requests: 1, tokens: 100 });
    if (!first.ok) throw new Error('first check refused');
    const refused = await limiter.check('k', { requests: 1, tokens: 1 });
    expect(refused).toMatchObject({ ok: false, retryAfterMs: 60_000 });

    vi.setSystemTime(new Date('2026-11-29T12:00:59.999Z'));
    expect((await limiter.check('k', { requests: 1, tokens: 1 })).ok).toBe(false);
    vi.setSystemTime(new Date('2026-11-29T12:01:00Z'));
    const second = await limiter.check('k', { requests: 1, tokens: 90 });
    expect(second.ok).toBe(true);
    // The first reservation's window has ended: settling it to 0 must not credit the new one.
    await limiter.settle(first.reservation, 0);
    expect((await limiter.check('k', { requests: 1, tokens: 11 })).ok).toBe(false);
    expect((await limiter.check('k', { requests: 1, tokens: 10 })).ok).toBe(true);
  });
});

describeRedis('Limiter in Redis', () => {
  const shared = useRedis();
  limiterSuite((ns, limits) =>
    createLimiter({ redis: shared.redis.client, prefix: `${shared.prefix}:${ns}`, limits }),
  );

  it('admits exactly N of N+1 parallel requests across two instances on one Redis', async () => {
    const other = await createRedis(redisUrl);
    try {
      const prefix = `${shared.prefix}:exact`;
      const limits = [{ requests: 10, perSeconds: 60 }];
      const errors: Error[] = [];
      const instances = [shared.redis.client, other.client].map((redis) =>
        createLimiter({ redis, prefix, limits, onStoreError: (e) => errors.push(e) }),
      );
      const results = await Promise.all(
        Array.from({ length: 11 }, (_, i) =>
          instances[i % 2]!.check('k', { requests: 1, tokens: 0 }),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      expect(errors).toEqual([]);
      // The refused one gave its point back: the counter says 10, not 11.
      expect(await shared.redis.client.get(`${prefix}:requests:10/60s:k`)).toBe('10');
    } finally {
      await other.close();
    }
  });
});
