/**
 * A Redis of our own, killed mid-test and restarted on the same port: limits keep limiting in
 * memory, the cache answers misses, cooldowns fail open, spend goes on in memory; nothing throws,
 * and Redis is used again once it is back.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createResponseCache } from '../../src/state/cache.js';
import { createCooldowns } from '../../src/state/cooldowns.js';
import { createLimiter } from '../../src/state/limits.js';
import { createRedis, type SharedRedis } from '../../src/state/redis.js';
import { createSpendCounters, periodOf } from '../../src/state/spend.js';
import { describeRedis, freePort, startRedisServer, type RedisServer } from '../helpers/redis.js';

describeRedis(
  'state while Redis goes away and comes back',
  () => {
    const servers: RedisServer[] = [];
    let redis: SharedRedis;
    let port: number;
    const logged: string[] = [];
    const log = {
      info: (_: object, msg: string) => logged.push(msg),
      warn: (_: object, msg: string) => logged.push(msg),
    };

    beforeAll(async () => {
      port = await freePort();
      servers.push(await startRedisServer(port));
      redis = await createRedis(`redis://127.0.0.1:${port}`, log, { maxBackoffMs: 50 });
    });
    afterAll(async () => {
      await redis?.close();
      await Promise.all(servers.map((server) => server.kill()));
    });

    it('keeps working in memory during the outage and uses Redis again after it', async () => {
      expect(redis.ready).toBe(true);
      const storeErrors: Error[] = [];
      const onStoreError = (error: Error) => storeErrors.push(error);
      const limiter = createLimiter({
        redis: redis.client,
        prefix: 'rl',
        limits: [{ requests: 3, perSeconds: 60 }],
        onStoreError,
      });
      const cache = createResponseCache<string>({
        redis: redis.client,
        namespace: 'cache',
        onError: onStoreError,
      });
      const cooldowns = createCooldowns({ redis: redis.client, prefix: 'keys', onStoreError });
      const spend = createSpendCounters({ redis: redis.client, prefix: 'spend', onStoreError });
      const period = periodOf('month');
      const counter = 'rl:requests:3/60s:user';

      // Up: everything lands in Redis.
      expect((await limiter.check('user', { requests: 1, tokens: 0 })).ok).toBe(true);
      expect(await redis.client.get(counter)).toBe('1');
      await cache.set({ model: 'm', hash: 'h' }, 'cached', 60_000);
      expect(await cache.get({ model: 'm', hash: 'h' })).toBe('cached');
      await cooldowns.cool('openai', 0, 60_000);
      expect(await spend.reserve('c', period, 4, 10)).toEqual({ ok: true });
      expect(storeErrors).toEqual([]);

      // Down.
      const noticed = once(redis.client, 'error');
      await servers.pop()!.kill();
      await noticed;
      expect(redis.ready).toBe(false);

      // The insurance limiter counts afresh in memory, and still refuses past the limit.
      for (let i = 0; i < 3; i++) {
        expect((await limiter.check('user', { requests: 1, tokens: 0 })).ok).toBe(true);
      }
      expect(await limiter.check('user', { requests: 1, tokens: 0 })).toMatchObject({ ok: false });
      expect(storeErrors.length).toBeGreaterThanOrEqual(4);

      expect(await cache.get({ model: 'm', hash: 'h' })).toBeUndefined();
      await expect(cache.set({ model: 'm', hash: 'h2' }, 'lost', 60_000)).resolves.toBeUndefined();
      expect(await cache.invalidate()).toBe(0);
      expect(await cooldowns.coolingUntil('openai', 0)).toBe(0); // fail open
      await expect(cooldowns.cool('openai', 1, 1000)).resolves.toBeUndefined();
      // Spend goes on from what Redis said last (4 of 10).
      expect(await spend.reserve('c', period, 5, 10)).toEqual({ ok: true });
      expect(await spend.reserve('c', period, 2, 10)).toEqual({ ok: false, spentUsd: 9 });
      expect(await spend.markOnce('alert')).toBe(true);
      expect(await spend.markOnce('alert')).toBe(false);
      expect(logged).toContain('Redis unavailable; falling back until it is back');

      // Back, on the same port, empty.
      servers.push(await startRedisServer(port));
      await redis.whenReady();
      expect(logged).toContain('Redis connection restored');
      const errorsBefore = storeErrors.length;
      expect((await limiter.check('user', { requests: 1, tokens: 0 })).ok).toBe(true);
      expect(await redis.client.get(counter)).toBe('1');
      await cache.set({ model: 'm', hash: 'h' }, 'again', 60_000);
      expect(await cache.get({ model: 'm', hash: 'h' })).toBe('again');
      await cooldowns.cool('openai', 0, 60_000);
      expect(await cooldowns.coolingUntil('openai', 0)).toBeGreaterThan(Date.now());
      expect(await spend.reserve('c', period, 1, 10)).toEqual({ ok: true });
      expect(await spend.spent('c', period)).toBe(1); // the new Redis knew nothing of before
      expect(storeErrors.length).toBe(errorsBefore);
      await cache.close();
    });
  },
  { spawnsServers: true },
);
