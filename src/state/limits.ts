/**
 * Rate limits over windows (requests and tokens). Shared by replicas: rate-limiter-flexible's
 * RateLimiterRedis, with a RateLimiterMemory insurance limiter, so a Redis outage keeps limiting
 * (per process) instead of failing or opening the gate. In one process: fixed windows counted
 * here as RateLimiterMemory counts them (a key's window starts with its first points), but
 * answered at once rather than through a promise per window and call (see `maybe.ts`).
 *
 * rate-limiter-flexible rejects `consume()` with a `RateLimiterRes` when limited and with an
 * `Error` when the store fails; `check` turns both into one decision, here and nowhere else.
 * @see https://github.com/animir/node-rate-limiter-flexible/wiki/Insurance-Strategy
 */
import { LRUCache } from 'lru-cache';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { RateLimit } from '../config/schema.js';
import type { MaybePromise } from './maybe.js';
import { asError, type RedisClient, type StoreErrorHandler } from './redis.js';

/** What one request asks of the windows. */
export interface LimitCost {
  requests: number;
  /** The estimate (prompt + max completion), reserved until `settle`. */
  tokens: number;
}

/** What `check` took, to correct with the real usage. Opaque to callers. */
export interface Reservation {
  readonly tokens: number;
}

/** A reservation as a limiter keeps it: the points it put into each window. */
interface Held<W> extends Reservation {
  readonly holds: readonly Hold<W>[];
}

interface Hold<W> {
  readonly window: W;
  readonly key: string;
  readonly points: number;
  /** When the window the points went into resets; a correction after it would credit the next. */
  readonly until: number;
}

export type LimitDecision =
  { ok: true; reservation: Reservation } | { ok: false; retryAfterMs: number; limit: RateLimit };

/** In memory every answer is in hand at once; from Redis it is a promise. */
export interface Limiter {
  /** Admits the request into every window, or into none (what was taken is given back). */
  check(key: string, cost: LimitCost): MaybePromise<LimitDecision>;
  /** Corrects the token windows from the estimate to `actualTokens` (reward or penalty). */
  settle(reservation: Reservation, actualTokens: number): MaybePromise<void>;
  /**
   * Gives back everything `check` took (its request and its tokens), for a request refused by a
   * later step (another limiter, the budget). A released reservation settles to nothing.
   */
  release(reservation: Reservation): MaybePromise<void>;
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
  /** The window's size: the limit's requests or tokens. */
  readonly points: number;
}

interface RedisWindow extends Window {
  readonly limiter: RateLimiterAbstract;
}

interface MemoryWindow extends Window {
  readonly counts: FixedWindows;
}

/** The points of a request in a window: its one request, or its tokens. */
const pointsIn = (window: Window, cost: { requests: number; tokens: number }): number =>
  window.kind === 'requests' ? cost.requests : cost.tokens;

/**
 * Keys counted per window in this process; past it the least recently counted are forgotten.
 * Per-user keys are chosen by callers: a flood of made-up users within one window stays bounded.
 */
const maxKeys = 100_000;

/** One window's counts per key, in this process. */
class FixedWindows {
  readonly #counts = new LRUCache<string, { value: number; resetsAt: number }>({ max: maxKeys });
  #sweepAt = 0;

  constructor(private readonly durationMs: number) {}

  /** Adds points to the key's window (a new one when the last has ended); returns the window. */
  add(key: string, points: number, now: number): { value: number; resetsAt: number } {
    if (now >= this.#sweepAt) this.#sweep(now);
    let window = this.#counts.get(key);
    if (!window || window.resetsAt <= now) {
      window = { value: 0, resetsAt: now + this.durationMs };
      this.#counts.set(key, window);
    }
    window.value += points;
    return window;
  }

  /** Corrects the window that ends at `until`, if it has not ended: a later one owes nothing. */
  adjust(key: string, points: number, until: number, now: number): void {
    const window = this.#counts.peek(key);
    if (window && window.resetsAt === until && until > now) window.value += points;
  }

  /** Forgets ended windows, at most once per window length: memory stays bounded by live keys. */
  #sweep(now: number): void {
    for (const [key, window] of [...this.#counts.entries()])
      if (window.resetsAt <= now) this.#counts.delete(key);
    this.#sweepAt = now + this.durationMs;
  }
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
  return options.redis
    ? createRedisLimiter(options.redis, options)
    : createMemoryLimiter(windowsOf(options.limits));
}

function createMemoryLimiter(windows: readonly Window[]): Limiter {
  const counted: MemoryWindow[] = windows.map((window) => ({
    ...window,
    counts: new FixedWindows(window.limit.perSeconds * 1000),
  }));
  const released = new WeakSet<Reservation>();
  const giveBack = (holds: readonly Hold<MemoryWindow>[], now: number): void => {
    for (const { window, key, points, until } of holds)
      window.counts.adjust(key, -points, until, now);
  };

  return {
    check(key, cost) {
      const asked = { requests: cost.requests, tokens: Math.max(0, Math.ceil(cost.tokens)) };
      const now = Date.now();
      const holds: Hold<MemoryWindow>[] = [];
      let refusal: { retryAfterMs: number; limit: RateLimit } | undefined;
      for (const window of counted) {
        const points = pointsIn(window, asked);
        if (points <= 0) continue;
        const { value, resetsAt } = window.counts.add(key, points, now);
        holds.push({ window, key, points, until: resetsAt });
        if (value > window.points) {
          const retryAfterMs = Math.max(resetsAt - now, 1);
          if (!refusal || retryAfterMs > refusal.retryAfterMs) {
            refusal = { retryAfterMs, limit: window.limit };
          }
        }
      }
      if (refusal) {
        giveBack(holds, now);
        return { ok: false, retryAfterMs: refusal.retryAfterMs, limit: refusal.limit };
      }
      const reservation: Held<MemoryWindow> = { holds, tokens: asked.tokens };
      return { ok: true, reservation };
    },

    settle(reservation, actualTokens) {
      if (released.has(reservation)) return;
      const { holds, tokens } = reservation as Held<MemoryWindow>;
      const delta = Math.max(0, Math.ceil(actualTokens)) - tokens;
      if (delta === 0) return;
      const now = Date.now();
      for (const { window, key, until } of holds) {
        if (window.kind === 'tokens') window.counts.adjust(key, delta, until, now);
      }
    },

    release(reservation) {
      if (released.has(reservation)) return;
      released.add(reservation);
      giveBack((reservation as Held<MemoryWindow>).holds, Date.now());
    },
  };
}

function createRedisLimiter(redis: RedisClient, options: LimiterOptions): Limiter {
  const { prefix } = options;
  const report = (error: unknown): void => options.onStoreError?.(asError(error));
  const windows = windowsOf(options.limits).map((window): RedisWindow => {
    const base = {
      keyPrefix: `${prefix}:${window.kind}:${window.points}/${window.limit.perSeconds}s`,
      points: window.points,
      duration: window.limit.perSeconds,
    };
    const limiter = new RateLimiterRedis({
      ...base,
      storeClient: redis,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new InsuranceLimiter(base, () =>
        report(new Error(`Redis unavailable: rate limit ${base.keyPrefix} counted in memory`)),
      ),
    });
    return { ...window, limiter };
  });

  /** Gives points back; a failure is reported and the window over-counts until it resets. */
  const giveBack = async (window: RedisWindow, key: string, points: number): Promise<void> => {
    await window.limiter.reward(key, points).catch(report);
  };

  const released = new WeakSet<Reservation>();

  return {
    async check(key, cost) {
      const tokens = Math.max(0, Math.ceil(cost.tokens));
      const asked = windows
        .map((window) => ({
          window,
          points: pointsIn(window, { requests: cost.requests, tokens }),
        }))
        .filter(({ points }) => points > 0);
      const results = await Promise.allSettled(
        asked.map(({ window, points }) => window.limiter.consume(key, points)),
      );

      const now = Date.now();
      const holds: Hold<RedisWindow>[] = [];
      const taken: { window: RedisWindow; points: number }[] = [];
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
      const reservation: Held<RedisWindow> = { holds, tokens };
      return { ok: true, reservation };
    },

    async settle(reservation, actualTokens) {
      if (released.has(reservation)) return;
      const { holds, tokens } = reservation as Held<RedisWindow>;
      const delta = Math.max(0, Math.ceil(actualTokens)) - tokens;
      if (delta === 0) return;
      const now = Date.now();
      await Promise.all(
        holds
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
        (reservation as Held<RedisWindow>).holds
          .filter(({ until }) => until > now)
          .map(({ window, key, points }) => giveBack(window, key, points)),
      );
    },
  };
}

/** One window per limit and kind; an exact duplicate would count twice in one key, so once. */
function windowsOf(limits: readonly RateLimit[]): Window[] {
  const seen = new Set<string>();
  const out: Window[] = [];
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
