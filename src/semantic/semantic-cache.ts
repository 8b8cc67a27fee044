/**
 * The semantic cache's look-up and store, between the exact cache and the upstream call:
 * eligible? → embed once → search the request's scope → guard → serve, or leave a probe so the
 * answer can be stored once it is whole.
 *
 * A scope is what must match exactly for an answer to be reused: the tenant (the authenticated
 * client, never a header), the model as called and the provider that answers, the system
 * prompt, every generation parameter (the JSON output format too), and the embedder's id and
 * dimension.
 */
import { hash } from 'node:crypto';
import { stableJson } from '../gateway/normalize.js';
import type { CachedAnswer, Caller, ChatRequest, Target } from '../gateway/types.js';
import { eligibilityOf } from './eligibility.js';
import { guardOf } from './guard.js';
import type { SemanticStore } from './store.js';
import type { Embedder, Probe, SemanticResult } from './types.js';

export interface ClientSemanticSettings {
  enabled: boolean;
  minSimilarity?: number | undefined;
}

export interface SemanticCacheOptions {
  embedder: Embedder;
  store: SemanticStore;
  /** The configured threshold (else the embedder's own). */
  minSimilarity: number | undefined;
  /** No clients configured: every caller uses the cache. */
  open: boolean;
  /** A client's settings; undefined: it did not opt in. */
  client(clientId: string): ClientSemanticSettings | undefined;
  onResult?(result: SemanticResult): void;
  /** The embedder's latency, in seconds. */
  onEmbedded?(seconds: number): void;
  /** Why a request is not looked up by meaning (debug logs). */
  onIneligible?(reason: string, request: ChatRequest): void;
}

export interface Lookup {
  /** The answer found by meaning. */
  hit: CachedAnswer | undefined;
  /** What storing the upstream's answer needs; undefined: it is not stored by meaning. */
  probe: Probe | undefined;
}

export interface SemanticCache {
  /** `target`: the provider that answers when all goes well (the first target in order). */
  lookup(request: ChatRequest, caller: Caller, target: Target): Promise<Lookup>;
  /** Stores an upstream's whole answer under a look-up's probe; returns its entry id. */
  store(probe: Probe, answer: CachedAnswer, ttlMs: number): string | undefined;
  /**
   * `store`, for an answer that finished with `stop` from the scope's own target (a fallback's
   * answer, or one cut at its length, is not the scope's answer).
   */
  keep(probe: Probe, target: Target, answer: CachedAnswer, ttlMs: number): void;
}

const none: Lookup = Object.freeze({ hit: undefined, probe: undefined });

/** The scope's id: the model as called (readable, for dropping by model) and a hash of the rest. */
export function scopeKeyOf(
  request: ChatRequest,
  caller: Caller,
  target: Target,
  system: string,
  embedder: Embedder,
  dimension: number,
): string {
  const parts: unknown[] = [
    caller.clientId,
    request.model,
    target.provider,
    target.model,
    hash('sha256', system, 'base64url'),
    request.temperature ?? null,
    request.topP ?? null,
    request.maxTokens ?? null,
    request.stop ?? null,
    request.toolChoice ?? null,
    embedder.id,
    dimension,
  ];
  // JSON output answers differently; only when given, so the scopes of text requests stay.
  if (request.responseFormat) parts.push(stableJson(request.responseFormat));
  const exact = JSON.stringify(parts);
  return `${encodeURIComponent(request.model)}:${hash('sha256', exact, 'base64url').slice(0, 22)}`;
}

export function createSemanticCache(options: SemanticCacheOptions): SemanticCache {
  const { embedder, store } = options;
  const report = (result: SemanticResult) => options.onResult?.(result);

  function thresholdFor(request: ChatRequest, settings: ClientSemanticSettings | undefined) {
    const configured =
      settings?.minSimilarity ?? options.minSimilarity ?? embedder.defaultMinSimilarity;
    return Math.max(configured, request.cacheOptions?.minSimilarity ?? 0);
  }

  return {
    async lookup(request, caller, target) {
      const settings = options.open ? undefined : options.client(caller.clientId);
      if (!options.open && !settings?.enabled) return none;
      const eligible = eligibilityOf(request, embedder.maxInputChars);
      if ('reason' in eligible) {
        report('ineligible');
        options.onIneligible?.(eligible.reason, request);
        return none;
      }
      const started = performance.now();
      const embedded = embedder.embed(eligible.prompt, caller);
      const vector = embedded instanceof Float32Array ? embedded : await embedded;
      options.onEmbedded?.((performance.now() - started) / 1000);
      if (!vector) {
        report('unavailable');
        return none;
      }
      const scope = scopeKeyOf(request, caller, target, eligible.system, embedder, vector.length);
      const guard = guardOf(eligible.prompt);
      const probe: Probe = {
        scope,
        vector,
        guard,
        provider: target.provider,
        model: target.model,
        noStore: request.cacheOptions?.noStore === true,
      };
      if (request.cache === 'REFRESH') {
        report('miss');
        return { hit: undefined, probe };
      }
      const { found, guarded } = await store.search(
        scope,
        vector,
        thresholdFor(request, settings),
        guard,
      );
      if (!found) {
        report(guarded ? 'guarded' : 'miss');
        return { hit: undefined, probe };
      }
      report('hit');
      const { answer, similarity, entryId } = found;
      const hit: CachedAnswer = {
        provider: answer.provider,
        response: answer.response,
        costUsd: answer.costUsd,
        semantic: { similarity, entryId },
      };
      return { hit, probe: undefined };
    },

    store(probe, answer, ttlMs) {
      if (probe.noStore) return undefined;
      return store.add(probe.scope, probe.vector, probe.guard, answer, ttlMs);
    },

    keep(probe, target, answer, ttlMs) {
      if (
        answer.response.finishReason === 'STOP' &&
        target.provider === probe.provider &&
        target.model === probe.model
      )
        this.store(probe, answer, ttlMs);
    },
  };
}
