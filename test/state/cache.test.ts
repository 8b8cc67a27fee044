import { describe, expect, it } from 'vitest';
import { createResponseCache } from '../../src/state/cache.js';
import { describeRedis, useRedis } from '../helpers/redis.js';
import { cacheSuite } from '../helpers/store-suite.js';

interface Answer {
  content: string;
  usage: { promptTokens: number };
}

describe('ResponseCache in memory', () => {
  cacheSuite(() => createResponseCache<Answer>({ maxEntries: 100 }));

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const cache = createResponseCache<string>({ maxEntries: 2 });
    await cache.set({ model: 'm', hash: '1' }, 'one', 60_000);
    await cache.set({ model: 'm', hash: '2' }, 'two', 60_000);
    expect(await cache.get({ model: 'm', hash: '1' })).toBe('one'); // 1 is now the most recent
    await cache.set({ model: 'm', hash: '3' }, 'three', 60_000);
    expect(await cache.get({ model: 'm', hash: '2' })).toBeUndefined();
    expect(await cache.get({ model: 'm', hash: '1' })).toBe('one');
    expect(await cache.get({ model: 'm', hash: '3' })).toBe('three');
  });
});

describeRedis('ResponseCache in Redis', () => {
  const shared = useRedis();
  cacheSuite((ns) =>
    createResponseCache<Answer>({
      redis: shared.redis.client,
      namespace: `${shared.prefix}:${ns}`,
    }),
  );

  it('stores entries under the namespace, with the TTL in Redis', async () => {
    const namespace = `${shared.prefix}:layout`;
    const cache = createResponseCache<string>({ redis: shared.redis.client, namespace });
    await cache.set({ model: 'openai/gpt-4o', hash: 'abc' }, 'hi', 60_000);
    const key = `${namespace}:openai%2Fgpt-4o:abc`;
    expect(await shared.redis.client.exists(key)).toBe(1);
    const ttl = await shared.redis.client.pTTL(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await cache.close();
  });

  it('shares entries between two caches on one Redis (replicas)', async () => {
    const namespace = `${shared.prefix}:replicas`;
    const a = createResponseCache<string>({ redis: shared.redis.client, namespace });
    const b = createResponseCache<string>({ redis: shared.redis.client, namespace });
    await a.set({ model: 'm', hash: 'h' }, 'from a', 60_000);
    expect(await b.get({ model: 'm', hash: 'h' })).toBe('from a');
    expect(await b.invalidate('m')).toBe(1);
    expect(await a.get({ model: 'm', hash: 'h' })).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('leaves no listeners on the shared client once closed', async () => {
    const client = shared.redis.client;
    const before = client.listenerCount('error');
    const cache = createResponseCache<string>({ redis: client, namespace: `${shared.prefix}:x` });
    const later = createResponseCache<string>({ redis: client, namespace: `${shared.prefix}:y` });
    const withBoth = client.listenerCount('error');
    expect(withBoth).toBeGreaterThan(before);
    await cache.close();
    expect(client.listenerCount('error')).toBe(before + (withBoth - before) / 2);
    await later.close();
    expect(client.listenerCount('error')).toBe(before);
    expect(await cache.get({ model: 'm', hash: 'h' })).toBeUndefined();
  });
});
