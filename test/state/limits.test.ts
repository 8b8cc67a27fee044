import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../src/state/limits.js';
import { createRedis } from '../../src/state/redis.js';
import { describeRedis, redisUrl, useRedis } from '../helpers/redis.js';
import { limiterSuite } from '../helpers/store-suite.js';

describe('Limiter in memory', () => {
  limiterSuite((ns, limits) => createLimiter({ prefix: ns, limits }));
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
