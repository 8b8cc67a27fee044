/**
 * The response cache: Keyv over a bounded lru-cache in one process, or over @keyv/redis on the
 * shared client. Keys are `<model>:<hash>` under a namespace, so one model's entries (or all)
 * can be dropped with a SCAN. A store failure is a miss, reported to `onError`, never thrown.
 */
import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import {
  asError,
  escapeGlob,
  unlinkMatching,
  type RedisClient,
  type StoreErrorHandler,
} from './redis.js';

/** The model as the cache groups it (invalidation is per model) and the request's hash. */
export interface CacheKey {
  model: string;
  hash: string;
}

export interface ResponseCache<T> {
  /** The cached value, or undefined on a miss, an expired entry, or a store failure. */
  get(key: CacheKey): Promise<T | undefined>;
  /** Stores `value` for `ttlMs`; a store failure is reported and otherwise ignored. */
  set(key: CacheKey, value: T, ttlMs: number): Promise<void>;
  /** Drops one model's entries, or every entry; answers how many were dropped (0 on failure). */
  invalidate(model?: string): Promise<number>;
  /** Stops using the store; never closes the shared Redis client. */
  close(): Promise<void>;
}

export interface ResponseCacheOptions {
  /** Shared client: entries live in Redis and every replica sees them. */
  redis?: RedisClient;
  /** Redis key prefix, e.g. `conduit:cache`. @default conduit:cache */
  namespace?: string;
  /** In-memory store only: the most entries kept (least recently used go first). @default 10000 */
  maxEntries?: number;
  onError?: StoreErrorHandler;
}

const clientEvents = ['error', 'connect', 'disconnect', 'reconnecting'] as const;

/** `:` would make model `a` match model `a:b`; `%`-encoding keeps the model one segment. */
const storeKey = (key: CacheKey): string => `${encodeURIComponent(key.model)}:${key.hash}`;
const modelPrefix = (model: string | undefined): string =>
  model === undefined ? '' : `${encodeURIComponent(model)}:`;

export function createResponseCache<T>(options: ResponseCacheOptions = {}): ResponseCache<T> {
  const { redis, namespace = 'conduit:cache', maxEntries = 10_000 } = options;
  const report = (error: unknown): void => options.onError?.(asError(error));

  let keyv: Keyv<T>;
  let invalidateStore: (prefix: string) => Promise<number>;
  let detach = (): void => {};
  if (redis) {
    const before = new Map(clientEvents.map((event) => [event, redis.listeners(event)]));
    const store = new KeyvRedis<T>(redis, {
      namespace,
      keyPrefixSeparator: ':',
      throwOnErrors: true,
      throwOnConnectError: true,
    });
    keyv = new Keyv<T>({ store, namespace, useKeyPrefix: false, throwOnErrors: true });
    // KeyvRedis listens on the client it is given; a shared client must not keep those listeners
    // after this cache is closed (a config reload makes a new cache each time).
    const added = clientEvents.flatMap((event) =>
      redis
        .listeners(event)
        .filter((listener) => !before.get(event)?.includes(listener))
        .map((listener) => ({ event, listener: listener as (...args: unknown[]) => void })),
    );
    detach = () => {
      for (const { event, listener } of added) redis.off(event, listener);
    };
    invalidateStore = (prefix) => unlinkMatching(redis, `${escapeGlob(`${namespace}:${prefix}`)}*`);
  } else {
    const lru = new LRUCache<string, string>({ max: maxEntries });
    keyv = new Keyv<T>({ store: lruStore(lru), useKeyPrefix: false, throwOnErrors: true });
    invalidateStore = async (prefix) => {
      let dropped = 0;
      for (const key of [...lru.keys()]) {
        if (key.startsWith(prefix) && lru.delete(key)) dropped++;
      }
      return dropped;
    };
  }
  // Store errors are also emitted as events; the rejections below are what we report.
  keyv.on('error', () => {});

  let closed = false;
  return {
    async get(key) {
      if (closed) return undefined;
      try {
        return await keyv.get(storeKey(key));
      } catch (error) {
        report(error);
        return undefined;
      }
    },
    async set(key, value, ttlMs) {
      if (closed) return;
      try {
        await keyv.set(storeKey(key), value, ttlMs);
      } catch (error) {
        report(error);
      }
    },
    async invalidate(model) {
      if (closed) return 0;
      try {
        return await invalidateStore(modelPrefix(model));
      } catch (error) {
        report(error);
        return 0;
      }
    },
    async close() {
      closed = true;
      detach();
    },
  };
}

/** lru-cache as a Keyv store (get/set/delete/clear), honouring each entry's TTL in the LRU too. */
const lruStore = (lru: LRUCache<string, string>) => ({
  get: async (key: string) => lru.get(key),
  set: async (key: string, value: string, ttl?: number) => {
    lru.set(key, value, ttl ? { ttl } : undefined);
  },
  delete: async (key: string) => lru.delete(key),
  clear: async () => lru.clear(),
});
