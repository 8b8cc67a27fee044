import { describe, expect, it } from 'vitest';
import { createResponseCache } from '../../src/state/cache.js';
import { describeRedis, useRedis } from '../helpers/redis.js';
import { cacheSuite } from '../helpers/store-suite.js';

interface Answer {
  content: string;
  usage: { promptTokens: number };
}

describe('ResponseCache in memory', () => {
  cacheSuite((_ns, limits) => createResponseCache<Answer>({ maxEntries: 100, ...limits }));

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

  it('keeps at most maxBytes of answers, dropping the least recently used', async () => {
    // Thirty answers of 5 kB against 64 kB: the bytes bound, not the entry count, decides.
    const maxBytes = 64 * 1024;
    const cache = createResponseCache<string>({ maxEntries: 10_000, maxBytes });
    const key = (i: number) => ({ model: 'm', hash: String(i) });
    const text = (i: number) => `${i}:`.padEnd(5000, 'x');
    for (let i = 0; i < 30; i++) await cache.set(key(i), text(i), 60_000);
    const kept: number[] = [];
    for (let i = 0; i < 30; i++) if ((await cache.get(key(i))) === text(i)) kept.push(i);
    // The newest stay, the oldest went, and what stays fits the bound.
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length * 5000).toBeLessThanOrEqual(maxBytes);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, j) => 30 - kept.length + j));
  });

  it('bounds bytes by default: 64 MiB, and no answer over 1 MiB', async () => {
    const cache = createResponseCache<string>();
    const mib = 1024 * 1024;
    await cache.set({ model: 'm', hash: 'big' }, 'x'.repeat(mib + 1), 60_000);
    expect(await cache.get({ model: 'm', hash: 'big' })).toBeUndefined();
    const answer = (i: number) => `${i}`.padEnd(mib - 100, 'y');
    for (let i = 0; i < 70; i++)
      await cache.set({ model: 'm', hash: String(i) }, answer(i), 60_000);
    let kept = 0;
    for (let i = 0; i < 70; i++)
      if ((await cache.get({ model: 'm', hash: String(i) })) !== undefined) kept++;
    expect(kept).toBeLessThanOrEqual(64);
    expect(kept).toBeGreaterThan(50);
    expect(await cache.get({ model: 'm', hash: '69' })).toBe(answer(69));
  });
});

describeRedis('ResponseCache in Redis', () => {
  const shared = useRedis();
  cacheSuite((ns, limits) =>
    createResponseCache<Answer>({
      redis: shared.redis.client,
      namespace: `${shared.prefix}:${ns}`,
      ...limits,
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
