/**
 * Where the semantic cache keeps its entries: one `ScopeIndex` per scope in this process, and,
 * with Redis, a stream per scope plus each answer under its own key.
 *
 * With Redis, a replica that stores an answer sets `<ns>:a:<entry id>` (the answer, with the
 * cache's TTL) and appends the entry's vector and guard to `<ns>:s:<scope>` (trimmed to the
 * scope's bound). Before searching a scope, a replica reads what was appended since it last
 * looked (one XRANGE), so entries written anywhere are found everywhere, a replica that starts
 * late included. A hit reads its answer by id: an answer that expired or was dropped (by any
 * replica) is a miss, and its vector goes. Plain Redis 7: no modules.
 *
 * An entry's id is `<scope>:<random>`, and a scope is `<model as called>:<hash>`, so an entry
 * names its scope, and one model's scopes (or all) can be dropped with a SCAN.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CachedAnswer } from '../gateway/types.js';
import {
  asError,
  escapeGlob,
  unlinkMatching,
  type RedisClient,
  type StoreErrorHandler,
} from '../state/redis.js';
import type { IndexedEntry } from './types.js';
import { ScopeIndex, type SearchResult } from './vector-index.js';

export interface SemanticStoreOptions {
  redis?: RedisClient;
  /** @default conduit:semantic */
  namespace?: string;
  /** Entries kept per scope; the least recently used go first. @default 1000 */
  maxEntriesPerScope: number;
  /** Scopes kept in this process; the least recently used go first. @default 10000 */
  maxScopes?: number;
  onError?: StoreErrorHandler;
}

export interface Found {
  answer: CachedAnswer;
  entryId: string;
  similarity: number;
}

export interface SemanticStore {
  /** The nearest answer at or above `minSimilarity` whose guard matches. */
  search(
    scope: string,
    vector: Float32Array,
    minSimilarity: number,
    guard: string,
  ): Promise<{ found: Found | undefined; guarded: boolean }>;
  /** Stores an answer for `ttlMs`; returns its entry id. */
  add(
    scope: string,
    vector: Float32Array,
    guard: string,
    answer: CachedAnswer,
    ttlMs: number,
  ): string;
  /** Drops one entry; answers whether it was there. */
  invalidate(entryId: string): Promise<boolean>;
  /** Drops every entry of the scope that holds `entryId`; answers how many went. */
  dropScope(entryId: string): Promise<number>;
  /** Drops one model's scopes (as called), or all; answers how many entries went. */
  clear(model?: string): Promise<number>;
  close(): Promise<void>;
}

interface Scope {
  index: ScopeIndex;
  /** The last stream id read from Redis. */
  seen: string;
}

const ID_PATTERN = /^[^:\s]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/;

/** The scope an entry id names, or undefined when it is no entry id of ours. */
export const scopeOf = (entryId: string): string | undefined =>
  ID_PATTERN.test(entryId) ? entryId.slice(0, entryId.lastIndexOf(':')) : undefined;

const toBase64 = (vector: Float32Array): string =>
  Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');

function fromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const vector = new Float32Array(bytes.length >> 2);
  for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4);
  return vector;
}

export function createSemanticStore(options: SemanticStoreOptions): SemanticStore {
  const { redis, namespace = 'conduit:semantic', maxEntriesPerScope } = options;
  const scopes = new LRUCache<string, Scope>({ max: options.maxScopes ?? 10_000 });
  const report = (error: unknown): void => options.onError?.(asError(error));
  const streamKey = (scope: string) => `${namespace}:s:${scope}`;
  const answerKey = (id: string) => `${namespace}:a:${id}`;

  const scopeFor = (scope: string, dimension: number): Scope => {
    let found = scopes.get(scope);
    if (!found || found.index.dimension !== dimension) {
      found = { index: new ScopeIndex(dimension, maxEntriesPerScope), seen: '0-0' };
      scopes.set(scope, found);
    }
    return found;
  };

  /** Reads in what other replicas appended to the scope since this one last looked. */
  async function catchUp(scope: string, held: Scope): Promise<void> {
    const start = held.seen === '0-0' ? '-' : `(${held.seen}`;
    const messages = await redis!.xRange(streamKey(scope), start, '+');
    const now = Date.now();
    for (const { id, message } of messages) {
      held.seen = id;
      const entryId = message.e;
      const expiresAt = Number(message.x);
      if (!entryId || !message.v || held.index.has(entryId) || !(expiresAt > now)) continue;
      held.index.add(fromBase64(message.v), {
        id: entryId,
        guard: message.g ?? '',
        expiresAt,
        answer: undefined,
      });
    }
  }

  async function answerOf(entry: IndexedEntry): Promise<CachedAnswer | undefined> {
    if (!redis) return entry.answer;
    const text = await redis.get(answerKey(entry.id));
    return text === null ? undefined : (JSON.parse(text) as CachedAnswer);
  }

  const dropLocal = (prefix: string): number => {
    let dropped = 0;
    for (const [key, held] of scopes.entries()) {
      if (!key.startsWith(prefix)) continue;
      dropped += held.index.size;
      scopes.delete(key);
    }
    return dropped;
  };

  return {
    async search(scope, vector, minSimilarity, guard) {
      const held = scopeFor(scope, vector.length);
      let result: SearchResult;
      try {
        if (redis) await catchUp(scope, held);
        result = held.index.search(vector, minSimilarity, guard, Date.now());
        if (!result.match) return { found: undefined, guarded: result.guarded };
        const { entry, similarity } = result.match;
        const answer = await answerOf(entry);
        if (!answer) {
          // Expired or dropped (perhaps by another replica): its vector goes too.
          held.index.remove(entry.id);
          return { found: undefined, guarded: false };
        }
        held.index.touch(entry.id);
        return { found: { answer, entryId: entry.id, similarity }, guarded: false };
      } catch (error) {
        report(error);
        return { found: undefined, guarded: false };
      }
    },

    add(scope, vector, guard, answer, ttlMs) {
      const id = `${scope}:${randomBytes(9).toString('base64url')}`;
      const expiresAt = Date.now() + ttlMs;
      scopeFor(scope, vector.length).index.add(vector, {
        id,
        guard,
        expiresAt,
        answer: redis ? undefined : answer,
      });
      if (redis) {
        redis
          .multi()
          .set(answerKey(id), JSON.stringify(answer), { expiration: { type: 'PX', value: ttlMs } })
          .xAdd(
            streamKey(scope),
            '*',
            { e: id, v: toBase64(vector), g: guard, x: String(expiresAt) },
            { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxEntriesPerScope } },
          )
          .pExpire(streamKey(scope), ttlMs)
          .exec()
          .catch(report);
      }
      return id;
    },

    async invalidate(entryId) {
      const scope = scopeOf(entryId);
      if (scope === undefined) return false;
      const local = scopes.get(scope)?.index.remove(entryId) ?? false;
      if (!redis) return local;
      try {
        return (await redis.del(answerKey(entryId))) > 0 || local;
      } catch (error) {
        report(error);
        return local;
      }
    },

    async dropScope(entryId) {
      const scope = scopeOf(entryId);
      if (scope === undefined) return 0;
      const local = scopes.get(scope)?.index.size ?? 0;
      scopes.delete(scope);
      if (!redis) return local;
      try {
        await redis.del(streamKey(scope));
        return await unlinkMatching(redis, `${escapeGlob(answerKey(`${scope}:`))}*`);
      } catch (error) {
        report(error);
        return local;
      }
    },

    async clear(model) {
      const prefix = model === undefined ? '' : `${encodeURIComponent(model)}:`;
      const local = dropLocal(prefix);
      if (!redis) return local;
      try {
        await unlinkMatching(redis, `${escapeGlob(`${namespace}:s:${prefix}`)}*`);
        return await unlinkMatching(redis, `${escapeGlob(`${namespace}:a:${prefix}`)}*`);
      } catch (error) {
        report(error);
        return local;
      }
    },

    async close() {
      scopes.clear();
    },
  };
}
