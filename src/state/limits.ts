/**
 * Rate limits over windows (requests and tokens), with rate-limiter-flexible: RateLimiterMemory
 * in one process, RateLimiterRedis shared by replicas with a RateLimiterMemory insurance limiter,
 * so a Redis outage keeps limiting (per process) instead of failing or opening the gate.
 *
 * rate-limiter-flexible rejects `consume()` with a `RateLimiterRes` when limited and with an
 * `Error` when the store fails; `check` turns both into one decision, here and nowhere else.
 * @see https://github.com/animir/node-rate-limiter-flexible/wiki/Insurance-Strategy
 */
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { RateLimit } from '../config/schema.js';
import { asError, type RedisClient, type StoreErrorHandler } from './redis.js';

/** What one request asks of the windows. */
export interface LimitCost {
  requests: number;
  /** The estimate (prompt + max completion), reserved until `settle`. */
  tokens: number;
}

/** What `check` took, to correct with the real usage. Opaque to callers. */
export interface Reservation {
  readonly holds: readonly Hold[];
  readonly tokens: number;
}

interface Hold {
  readonly window: Window;
  readonly key: string;
  readonly points: number;
  /** When the window the points went into resets; a correction after it would credit the next. */
  readonly until: number;
}

export type LimitDecision =
  { ok: true; reservation: Reservation } | { ok: false; retryAfterMs: number; limit: RateLimit };

export interface Limiter {
  /** Admits the request into every window, or into none (what was taken is given back). */
  check(key: string, cost: LimitCost): Promise<LimitDecision>;
  /** Corrects the token windows from the estimate to `actualTokens` (reward or penalty). */
  settle(reservation: Reservation, actualTokens: number): Promise<void>;
  /**
   * Gives back everything `check` took (its request and its tokens), for a request refused by a
   * later step (another limiter, the budget). A released reservation settles to nothing.
   */
  release(reservation: Reservation): Promise<void>;
}

export interface LimiterOptions {
  /** Shared client: counters live in Redis; without it, in this process. */
  redis?: RedisClient;
  /** Key prefix, e.g. `conduit:rl:client`. */
  prefix: string;
  limits: readonly RateLimit[];
  /** A Redis call failed and the in-memory insurance counted instead. */
  onStoreError?: StoreErrorHandler;
}

interface Window {
  readonly kind: 'requests' | 'tokens';
  readonly limit: RateLimit;
  readonly limiter: RateLimiterAbstract;
}

/** Counts in memory when the Redis limiter it insures cannot reach Redis, and says so. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    options: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
  ) {
    super(options);
  }
  override consume(...args: Parameters<RateLimiterMemory['consume']>) {
    this.onUse();
    return super.consume(...args);
  }
  override penalty(...args: Parameters<RateLimiterMemory['penalty']>) {
    this.onUse();
    return super.penalty(...args);
  }
  override reward(...args: Parameters<RateLimiterMemory['reward']>) {
    this.onUse();
    return super.reward(...args);
  }
}

export function createLimiter(options: LimiterOptions): Limiter {
  const { redis, prefix } = options;
  const report = (error: unknown): void => options.onStoreError?.(asError(error));
  const windows = windowsOf(options.limits).map(({ kind, limit, points }): Window => {
    const base = {
      keyPrefix: `${prefix}:${kind}:${points}/${limit.perSeconds}s`,
      points,
      duration: limit.perSeconds,
    };
    const limiter = redis
      ? new RateLimiterRedis({
          ...base,
          storeClient: redis,
          useRedisPackage: true,
          rejectIfRedisNotReady: true,
          insuranceLimiter: new InsuranceLimiter(base, () =>
            report(new Error(`Redis unavailable: rate limit ${base.keyPrefix} counted in memory`)),
          ),
        })
      : new RateLimiterMemory(base);
    return { kind, limit, limiter };
  });

  /** Gives points back; a failure is reported and the window over-counts until it resets. */
  const giveBack = async (window: Window, key: string, points: number): Promise<void> => {
    await window.limiter.reward(key, points).catch(report);
  };

  const released = new WeakSet<Reservation>();

  return {
    async check(key, cost) {
      const tokens = Math.max(0, Math.ceil(cost.tokens));
      const asked = windows
        .map((window) => ({ window, points: window.kind === 'requests' ? cost.requests : tokens }))
        .filter(({ points }) => points > 0);
      const results = await Promise.allSettled(
        asked.map(({ window, points }) => window.limiter.consume(key, points)),
      );

      const now = Date.now();
      const holds: Hold[] = [];
      const taken: { window: Window; points: number }[] = [];
      let refusal: { retryAfterMs: number; limit: RateLimit } | undefined;
      results.forEach((result, i) => {
        const { window, points } = asked[i]!;
        if (result.status === 'fulfilled') {
          taken.push({ window, points });
          holds.push({ window, key, points, until: now + result.value.msBeforeNext });
        } else if (result.reason instanceof RateLimiterRes) {
          // A refused consume has still added its points: they are given back below.
          taken.push({ window, points });
          const retryAfterMs = Math.max(result.reason.msBeforeNext, 1);
          if (!refusal || retryAfterMs > refusal.retryAfterMs) {
            refusal = { retryAfterMs, limit: window.limit };
          }
        } else {
          report(result.reason); // store and insurance both failed: this window lets it pass
        }
      });

      if (refusal) {
        await Promise.all(taken.map(({ window, points }) => giveBack(window, key, points)));
        return { ok: false, ...refusal };
      }
      return { ok: true, reservation: { holds, tokens } };
    },

    async settle(reservation, actualTokens) {
      if (released.has(reservation)) return;
      const delta = Math.max(0, Math.ceil(actualTokens)) - reservation.tokens;
      if (delta === 0) return;
      const now = Date.now();
      await Promise.all(
        reservation.holds
          .filter(({ window, until }) => window.kind === 'tokens' && until > now)
          .map(({ window, key }) =>
            (delta > 0 ? window.limiter.penalty(key, delta) : window.limiter.reward(key, -delta))
              .then(() => undefined)
              .catch(report),
          ),
      );
    },

    async release(reservation) {
      if (released.has(reservation)) return;
      released.add(reservation);
      const now = Date.now();
      await Promise.all(
        reservation.holds
          .filter(({ until }) => until > now)
          .map(({ window, key, points }) => giveBack(window, key, points)),
      );
    },
  };
}

/** One window per limit and kind; an exact duplicate would count twice in one key, so once. */
function windowsOf(limits: readonly RateLimit[]) {
  const seen = new Set<string>();
  const out: { kind: Window['kind']; limit: RateLimit; points: number }[] = [];
  for (const limit of limits) {
    for (const kind of ['requests', 'tokens'] as const) {
      const points = limit[kind];
      if (points === undefined) continue;
      const id = `${kind}:${points}/${limit.perSeconds}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ kind, limit, points });
    }
  }
  return out;
}
