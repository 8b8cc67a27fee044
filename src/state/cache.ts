/**
 * The response cache: a bounded lru-cache in one process (values kept as they are: no
 * serialization, no Keyv layer, on the request path of every miss), or Keyv over @keyv/redis on
 * the shared client. Keys are `<model>:<hash>` under a namespace, so one model's entries (or all)
 * can be dropped with a SCAN. A store failure is a miss, reported to `onError`, never thrown.
 * Memory is bounded by entries and by bytes (answers are sized by their JSON); an answer larger
 * than `maxEntryBytes` is never stored, in memory or in Redis.
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
  /**
   * In-memory store only: the most bytes of answers (and keys) kept; the least recently used go
   * first. @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /** An answer larger than this is not stored at all (memory and Redis). @default 1048576 (1 MiB) */
  maxEntryBytes?: number;
  onError?: StoreErrorHandler;
}

const clientEvents = ['error', 'connect', 'disconnect', 'reconnecting'] as const;

/** `:` would make model `a` match model `a:b`; `%`-encoding keeps the model one segment. */
const storeKey = (key: CacheKey): string => `${encodeURIComponent(key.model)}:${key.hash}`;
const modelPrefix = (model: string | undefined): string =>
  model === undefined ? '' : `${encodeURIComponent(model)}:`;

/**
 * About the length of an answer's JSON (what Redis would hold, and about what the process
 * holds), counted without building it, and only until it passes `limit`: a 5 MB answer that
 * will not be stored costs no 5 MB string. Measured once per stored answer, never on a hit.
 */
function sizeOf(value: unknown, limit: number): number {
  let size = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && size <= limit) {
    const item = pending.pop();
    if (typeof item === 'string') size += item.length + 2;
    else if (Array.isArray(item)) {
      size += 2 + item.length;
      for (const element of item) pending.push(element);
    } else if (item !== null && typeof item === 'object') {
      size += 2;
      for (const [key, field] of Object.entries(item)) {
        size += key.length + 4;
        pending.push(field);
      }
    } else size += 8;
  }
  return size;
}

export function createResponseCache<T>(options: ResponseCacheOptions = {}): ResponseCache<T> {
  const {
    redis,
    namespace = 'conduit:cache',
    maxEntries = 10_000,
    maxBytes = 64 * 1024 * 1024,
    maxEntryBytes = 1024 * 1024,
  } = options;
  return redis
    ? redisCache<T>(redis, namespace, maxEntryBytes, options)
    : memoryCache<T>(maxEntries, maxBytes, maxEntryBytes);
}

/**
 * Entries are the answers themselves, shared with whoever reads them: never mutate one. Each
 * expires by the wall clock (as Keyv's entries do), the least recently used go first when full,
 * by count or by bytes.
 */
function memoryCache<T>(
  maxEntries: number,
  maxBytes: number,
  maxEntryBytes: number,
): ResponseCache<T> {
  const lru = new LRUCache<string, { value: T; expires: number; size: number }>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (entry) => entry.size,
  });
  let closed = false;
  return {
    get(key) {
      if (closed) return Promise.resolve(undefined);
      const id = storeKey(key);
      const entry = lru.get(id);
      if (entry && entry.expires <= Date.now()) {
        lru.delete(id);
        return Promise.resolve(undefined);
      }
      return Promise.resolve(entry?.value);
    },
    set(key, value, ttlMs) {
      if (closed) return Promise.resolve();
      const id = storeKey(key);
      const size = sizeOf(value, maxEntryBytes);
      // Too big to keep: an older answer under the same key is stale now, so it goes too.
      if (size > maxEntryBytes) lru.delete(id);
      else lru.set(id, { value, expires: Date.now() + ttlMs, size: size + id.length });
      return Promise.resolve();
    },
    invalidate(model) {
      if (closed) return Promise.resolve(0);
      const prefix = modelPrefix(model);
      let dropped = 0;
      for (const key of [...lru.keys()]) {
        if (key.startsWith(prefix) && lru.delete(key)) dropped++;
      }
      return Promise.resolve(dropped);
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}

function redisCache<T>(
  redis: RedisClient,
  namespace: string,
  maxEntryBytes: number,
  options: ResponseCacheOptions,
): ResponseCache<T> {
  const report = (error: unknown): void => options.onError?.(asError(error));
  const before = new Map(clientEvents.map((event) => [event, redis.listeners(event)]));
  const store = new KeyvRedis<T>(redis, {
    namespace,
    keyPrefixSeparator: ':',
    throwOnErrors: true,
    throwOnConnectError: true,
  });
  const keyv = new Keyv<T>({ store, namespace, useKeyPrefix: false, throwOnErrors: true });
  // KeyvRedis listens on the client it is given; a shared client must not keep those listeners
  // after this cache is closed (a config reload makes a new cache each time).
  const added = clientEvents.flatMap((event) =>
    redis
      .listeners(event)
      .filter((listener) => !before.get(event)?.includes(listener))
      .map((listener) => ({ event, listener: listener as (...args: unknown[]) => void })),
  );
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
        // Too big to keep: an older answer under the same key is stale now, so it goes too.
        if (sizeOf(value, maxEntryBytes) > maxEntryBytes) await keyv.delete(storeKey(key));
        else await keyv.set(storeKey(key), value, ttlMs);
      } catch (error) {
        report(error);
      }
    },
    async invalidate(model) {
      if (closed) return 0;
      try {
        return await unlinkMatching(redis, `${escapeGlob(`${namespace}:${modelPrefix(model)}`)}*`);
      } catch (error) {
        report(error);
        return 0;
      }
    },
    async close() {
      closed = true;
      for (const { event, listener } of added) redis.off(event, listener);
    },
  };
}
