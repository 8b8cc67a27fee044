/**
 * Spend counters for budgets, per client and period, plus once-only marks for alerts. In memory,
 * or in Redis where a reservation is one Lua script (check + add), so replicas together never
 * reserve past a limit. Amounts are counted in integer nano-dollars: no float drift in the check.
 * A request reserves its prompt and as many answer tokens as the room left pays for (up to what
 * it asks): the room is read and taken in the same step, so the answer's ceiling it is given can
 * be sent upstream, and concurrent requests, on one replica or several, never reserve past it.
 *
 * If Redis fails, this process goes on with an in-memory copy (the last values Redis gave it plus
 * what it reserves meanwhile), reports the failure, and uses Redis again as soon as it answers.
 */
import { andThen, type MaybePromise } from './maybe.js';
import { asError, type RedisClient, type StoreErrorHandler } from './redis.js';

export type BudgetPeriod = 'day' | 'week' | 'month';

/** One budget period: a name for keys and its end, after which its counter expires. */
export interface SpendPeriod {
  /** `2026-11-29`, `W2026-11-23` (the week's Monday) or `2026-11`. */
  key: string;
  /** Epoch ms the next period starts. */
  endsAt: number;
}

export type SpendDecision = { ok: true } | { ok: false; spentUsd: number };

/** What a request asks of a budget: its prompt, and answer tokens up to a ceiling. */
export interface TokenAsk {
  /** The prompt's estimated cost, reserved whole. */
  promptUsd: number;
  /** USD per answer token. */
  tokenUsd: number;
  /** The most answer tokens wanted (what the client asked, or the budget's ceiling). */
  maxTokens: number;
  /** Fewer affordable answer tokens than this is no useful answer: refused. */
  minTokens: number;
}

export type TokenDecision =
  | {
      ok: true;
      /** The answer's ceiling the budget pays for: at most `maxTokens`, at least `minTokens`. */
      tokens: number;
      /** What was reserved (the prompt and `tokens`), for `settle`. */
      reservedUsd: number;
    }
  | { ok: false; spentUsd: number };

/** In memory every answer is in hand at once (see `maybe.ts`); from Redis it is a promise. */
export interface SpendCounters {
  /** Adds `usd` unless the total would pass `limitUsd` (or already reached it). */
  reserve(
    clientId: string,
    period: SpendPeriod,
    usd: number,
    limitUsd: number,
  ): MaybePromise<SpendDecision>;
  /**
   * Adds the prompt and as many answer tokens as fit under `limitUsd`, up to `ask.maxTokens`,
   * in one step; refused (nothing added) when fewer than `ask.minTokens` fit or the limit is
   * reached.
   */
  reserveTokens(
    clientId: string,
    period: SpendPeriod,
    ask: TokenAsk,
    limitUsd: number,
  ): MaybePromise<TokenDecision>;
  /** Replaces a reservation by what the request really cost. */
  settle(
    clientId: string,
    period: SpendPeriod,
    reservedUsd: number,
    actualUsd: number,
  ): MaybePromise<void>;
  spent(clientId: string, period: SpendPeriod): MaybePromise<number>;
  /** Starts the counter at `usd` (from the usage store) unless it exists; true if this call did. */
  seed(clientId: string, period: SpendPeriod, usd: number): MaybePromise<boolean>;
  /** True the first time `key` is marked, across every replica, within `ttlMs`. */
  markOnce(key: string, ttlMs?: number): MaybePromise<boolean>;
}

export interface SpendOptions {
  redis?: RedisClient;
  /** @default conduit:spend */
  prefix?: string;
  /** How long a counter outlives its period, for late settles and reports. @default 86400000 */
  graceMs?: number;
  onStoreError?: StoreErrorHandler;
}

const day = 86_400_000;
const nanos = (usd: number): number => Math.round(usd * 1e9);
const usdOf = (n: number): number => Math.max(0, n) / 1e9;

/** The period now, kept until it ends (every admission of a budgeted client asks for it). */
const current = new Map<BudgetPeriod, SpendPeriod & { startsAt: number }>();

/** The UTC period `now` falls in. */
export function periodOf(period: BudgetPeriod, now?: Date): SpendPeriod {
  if (now) return computePeriod(period, now);
  const ms = Date.now();
  const known = current.get(period);
  if (known && ms >= known.startsAt && ms < known.endsAt) return known;
  const computed = { ...computePeriod(period, new Date(ms)), startsAt: ms };
  current.set(period, computed);
  return computed;
}

function computePeriod(period: BudgetPeriod, now: Date): SpendPeriod {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  switch (period) {
    case 'day':
      return { key: iso(Date.UTC(y, m, d)), endsAt: Date.UTC(y, m, d + 1) };
    case 'week': {
      const monday = Date.UTC(y, m, d - ((now.getUTCDay() + 6) % 7));
      return { key: `W${iso(monday)}`, endsAt: monday + 7 * day };
    }
    case 'month':
      return { key: iso(Date.UTC(y, m, 1)).slice(0, 7), endsAt: Date.UTC(y, m + 1, 1) };
    default:
      return period satisfies never;
  }
}

/**
 * The answer tokens a reservation gets: as many as the room under `limit` pays for at `perToken`
 * once `fixed` is taken, up to `most`; -1 when fewer than `least` fit or the limit is reached.
 * In nano-dollars; `perToken` may have a fraction. The Lua of `reserveScript` does the same.
 */
function fit(current: number, { fixed, perToken, most, least }: Ask, limit: number): number {
  const room = limit - current - fixed;
  if (current >= limit || room < 0) return -1;
  let tokens = perToken > 0 ? Math.min(most, Math.floor(room / perToken)) : most;
  if (tokens > 0 && Math.ceil(tokens * perToken) > room) tokens--; // a float rounded up
  return tokens < least ? -1 : tokens;
}

/** A TokenAsk in nano-dollars. */
interface Ask {
  fixed: number;
  perToken: number;
  most: number;
  least: number;
}

const amountOf = (ask: Ask, tokens: number): number => ask.fixed + Math.ceil(tokens * ask.perToken);

/** The operations both stores offer, on integer nano-dollars and full keys. */
interface Store {
  /** `[tokens, total]`: the answer tokens reserved (-1: refused, nothing added) and the total. */
  reserve(key: string, ask: Ask, limit: number, expireAt: number): MaybePromise<[number, number]>;
  add(key: string, amount: number, expireAt: number): MaybePromise<number>;
  get(key: string): MaybePromise<number>;
  setIfAbsent(key: string, amount: number, expireAt: number): MaybePromise<boolean>;
  mark(key: string, expireAt: number): MaybePromise<boolean>;
}

const reserved: SpendDecision = Object.freeze({ ok: true });

export function createSpendCounters(options: SpendOptions = {}): SpendCounters {
  const { redis, prefix = 'conduit:spend', graceMs = day } = options;
  const memory = memoryStore();
  const store = redis ? insured(redisStore(redis), memory, options.onStoreError) : memory;
  const keyOf = (clientId: string, period: SpendPeriod) =>
    `${prefix}:${encodeURIComponent(clientId)}:${period.key}`;
  const expiry = (period: SpendPeriod) => period.endsAt + graceMs;

  return {
    reserve(clientId, period, usd, limitUsd) {
      const ask = { fixed: nanos(usd), perToken: 0, most: 0, least: 0 };
      return andThen(
        store.reserve(keyOf(clientId, period), ask, nanos(limitUsd), expiry(period)),
        ([tokens, total]): SpendDecision =>
          tokens >= 0 ? reserved : { ok: false, spentUsd: usdOf(total) },
      );
    },
    reserveTokens(clientId, period, { promptUsd, tokenUsd, maxTokens, minTokens }, limitUsd) {
      const ask = {
        fixed: nanos(promptUsd),
        perToken: Math.max(0, tokenUsd) * 1e9,
        most: maxTokens,
        least: minTokens,
      };
      return andThen(
        store.reserve(keyOf(clientId, period), ask, nanos(limitUsd), expiry(period)),
        ([tokens, total]): TokenDecision =>
          tokens >= 0
            ? { ok: true, tokens, reservedUsd: amountOf(ask, tokens) / 1e9 }
            : { ok: false, spentUsd: usdOf(total) },
      );
    },
    settle(clientId, period, reservedUsd, actualUsd) {
      const delta = nanos(actualUsd) - nanos(reservedUsd);
      if (delta === 0) return;
      return andThen(store.add(keyOf(clientId, period), delta, expiry(period)), () => undefined);
    },
    spent(clientId, period) {
      return andThen(store.get(keyOf(clientId, period)), usdOf);
    },
    seed(clientId, period, usd) {
      return store.setIfAbsent(keyOf(clientId, period), nanos(usd), expiry(period));
    },
    markOnce(key, ttlMs = 35 * day) {
      return store.mark(`${prefix}:mark:${key}`, Date.now() + ttlMs);
    },
  };
}

interface Entry {
  value: number;
  expireAt: number;
}

/** The in-memory store; `put` lets the Redis store keep it current as insurance. */
function memoryStore(): Store & { put(key: string, value: number, expireAt: number): void } {
  const entries = new Map<string, Entry>();
  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expireAt <= Date.now()) entries.delete(key);
    return entry && entry.expireAt > Date.now() ? entry : undefined;
  };
  const put = (key: string, value: number, expireAt: number) => {
    entries.set(key, { value, expireAt: live(key)?.expireAt ?? expireAt });
  };
  return {
    put,
    reserve(key, ask, limit, expireAt) {
      const current = live(key)?.value ?? 0;
      const tokens = fit(current, ask, limit);
      if (tokens < 0) return [-1, current];
      const total = current + amountOf(ask, tokens);
      put(key, total, expireAt);
      return [tokens, total];
    },
    add(key, amount, expireAt) {
      const total = (live(key)?.value ?? 0) + amount;
      put(key, total, expireAt);
      return total;
    },
    get(key) {
      return live(key)?.value ?? 0;
    },
    setIfAbsent(key, amount, expireAt) {
      if (live(key)) return false;
      put(key, amount, expireAt);
      return true;
    },
    mark(key, expireAt) {
      if (live(key)) return false;
      put(key, 1, expireAt);
      return true;
    },
  };
}

/**
 * `fit` and the add in one step; the expiry is set once, when the counter is created. The amount
 * goes to INCRBY as integer digits (%.0f), never in a float's notation, which it refuses.
 */
const reserveScript = `local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local fixed = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local most = tonumber(ARGV[3])
local least = tonumber(ARGV[4])
local limit = tonumber(ARGV[5])
local room = limit - current - fixed
if current >= limit or room < 0 then return {-1, current} end
local tokens = most
if per > 0 then tokens = math.min(most, math.floor(room / per)) end
if tokens > 0 and math.ceil(tokens * per) > room then tokens = tokens - 1 end
if tokens < least then return {-1, current} end
local amount = fixed + math.ceil(tokens * per)
local total = redis.call('INCRBY', KEYS[1], string.format('%.0f', amount))
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[6]) end
return {tokens, total}`;

const addScript = `local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return total`;

function redisStore(redis: RedisClient): Store {
  const args = (...values: number[]) => values.map((v) => String(Math.round(v)));
  return {
    async reserve(key, { fixed, perToken, most, least }, limit, expireAt) {
      const [tokens, total] = (await redis.eval(reserveScript, {
        keys: [key],
        // The price per token keeps its fraction: rounded, a cheap model would be free.
        arguments: [...args(fixed), String(perToken), ...args(most, least, limit, expireAt)],
      })) as [number, number];
      return [tokens, total];
    },
    async add(key, amount, expireAt) {
      return (await redis.eval(addScript, {
        keys: [key],
        arguments: args(amount, expireAt),
      })) as number;
    },
    async get(key) {
      return Number((await redis.get(key)) ?? 0);
    },
    async setIfAbsent(key, amount, expireAt) {
      const reply = await redis.set(key, String(amount), {
        expiration: { type: 'PXAT', value: expireAt },
        condition: 'NX',
      });
      return reply === 'OK';
    },
    async mark(key, expireAt) {
      const reply = await redis.set(key, '1', {
        expiration: { type: 'PXAT', value: expireAt },
        condition: 'NX',
      });
      return reply === 'OK';
    },
  };
}

/** Redis first; on failure the memory store answers, kept current with what Redis last said. */
function insured(
  primary: Store,
  memory: ReturnType<typeof memoryStore>,
  onStoreError: StoreErrorHandler | undefined,
): Store {
  async function attempt<T>(
    run: (store: Store) => MaybePromise<T>,
    mirror: (value: T) => void,
  ): Promise<T> {
    let value: T;
    try {
      value = await run(primary);
    } catch (error) {
      onStoreError?.(asError(error));
      return run(memory);
    }
    mirror(value);
    return value;
  }
  return {
    reserve: (key, ask, limit, expireAt) =>
      attempt(
        (store) => store.reserve(key, ask, limit, expireAt),
        ([, total]) => memory.put(key, total, expireAt),
      ),
    add: (key, amount, expireAt) =>
      attempt(
        (store) => store.add(key, amount, expireAt),
        (total) => memory.put(key, total, expireAt),
      ),
    get: (key) =>
      attempt(
        (store) => store.get(key),
        () => {},
      ),
    setIfAbsent: (key, amount, expireAt) =>
      attempt(
        (store) => store.setIfAbsent(key, amount, expireAt),
        (done) => done && memory.put(key, amount, expireAt),
      ),
    // Marked in Redis or not, this process must not fire it again during an outage.
    mark: (key, expireAt) =>
      attempt(
        (store) => store.mark(key, expireAt),
        () => memory.put(key, 1, expireAt),
      ),
  };
}
