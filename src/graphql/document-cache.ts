/**
 * Yoga's parse caches, bounded by bytes. Yoga keeps up to 1,024 parsed documents (and parse
 * errors) keyed by their source text, before any key is checked: 300 unauthenticated 1 MB
 * queries (a long comment will do) held 670 MB of heap. Here a source is counted by its length
 * (a long document is long in comments, strings or whitespace: graphql-armor caps its tokens),
 * the whole cache by the sum, and a source too long to be worth keeping is parsed every time.
 */
import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** Characters of source text kept per cache. */
const maxSize = 16 * 1024 * 1024;
/** The longest source kept; GraphiQL's introspection query is about 2,000 characters. */
const maxEntrySize = 256 * 1024;
/** Yoga's own defaults. */
const max = 1024;
const ttl = 3_600_000;

export function boundedCache<T extends object>(): {
  get(key: string): T | undefined;
  set(key: string, value: T): void;
} {
  const lru = new LRUCache<string, T>({
    max,
    ttl,
    maxSize,
    maxEntrySize,
    sizeCalculation: (_value, key) => Math.max(1, key.length),
  });
  return { get: (key) => lru.get(key), set: (key, value) => void lru.set(key, value) };
}

/** For createYoga's `parserAndValidationCache`. */
export function createDocumentCaches() {
  return { documentCache: boundedCache<DocumentNode>(), errorCache: boundedCache<object>() };
}
