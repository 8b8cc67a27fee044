/**
 * Key cooldowns for provider key pools: a key that got a 429 rests for a while, a key that got a
 * 401 leaves the pool until the config is reloaded. In memory, or in Redis (PX expiry) so every
 * replica skips the same keys. Redis failing means "available": a wasted try beats an empty pool.
 */
import {
  asError,
  escapeGlob,
  unlinkMatching,
  type RedisClient,
  type StoreErrorHandler,
} from './redis.js';

/** `coolingUntil` of a disabled key. */
export const DISABLED = Number.POSITIVE_INFINITY;

export interface Cooldowns {
  /** Rests the key for `ms`; a longer rest already running is kept. */
  cool(provider: string, keyIndex: number, ms: number): Promise<void>;
  /** Takes the key out of the pool until `reset` (config reload). */
  disable(provider: string, keyIndex: number): Promise<void>;
  /** Epoch ms the key is available again: 0 when available now, DISABLED when disabled. */
  coolingUntil(provider: string, keyIndex: number): Promise<number>;
  /** `coolingUntil` of keys 0..count-1 of a provider, in one round trip. */
  poolStatus(provider: string, count: number): Promise<number[]>;
  /** Forgets rests and disabled marks: of one provider, or all (on config reload). */
  reset(provider?: string): Promise<void>;
}

export interface CooldownOptions {
  redis?: RedisClient;
  /** @default conduit:keys */
  prefix?: string;
  onStoreError?: StoreErrorHandler;
  /** How long a disabled mark lives in Redis if no reload clears it. @default 86400000 (a day) */
  disabledTtlMs?: number;
}

export function createCooldowns(options: CooldownOptions = {}): Cooldowns {
  return options.redis ? redisCooldowns(options.redis, options) : memoryCooldowns();
}

function memoryCooldowns(): Cooldowns {
  /** `${provider}\n${index}` → epoch ms (DISABLED for disabled). */
  const until = new Map<string, number>();
  const id = (provider: string, keyIndex: number) => `${provider}\n${keyIndex}`;
  const read = (provider: string, keyIndex: number): number => {
    const key = id(provider, keyIndex);
    const at = until.get(key) ?? 0;
    if (at > Date.now()) return at;
    until.delete(key);
    return 0;
  };
  return {
    async cool(provider, keyIndex, ms) {
      const at = Date.now() + ms;
      if (ms > 0 && at > read(provider, keyIndex)) until.set(id(provider, keyIndex), at);
    },
    async disable(provider, keyIndex) {
      until.set(id(provider, keyIndex), DISABLED);
    },
    async coolingUntil(provider, keyIndex) {
      return read(provider, keyIndex);
    },
    async poolStatus(provider, count) {
      return Array.from({ length: count }, (_, i) => read(provider, i));
    },
    async reset(provider) {
      if (provider === undefined) return until.clear();
      for (const key of [...until.keys()]) if (key.startsWith(`${provider}\n`)) until.delete(key);
    },
  };
}

/** Sets the rest unless a longer one is running: compared by PTTL, so clocks need not agree. */
const coolScript = `local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  return 1
end
return 0`;

/** Per key pair (rest, disabled mark): the rest's PTTL and whether the mark exists. A script,
 * not a pipeline: node-redis queues pipelines while offline instead of failing them. */
const statusScript = `local out = {}
for i = 1, #KEYS, 2 do
  out[i] = redis.call('PTTL', KEYS[i])
  out[i + 1] = redis.call('EXISTS', KEYS[i + 1])
end
return out`;

function redisCooldowns(redis: RedisClient, options: CooldownOptions): Cooldowns {
  const { prefix = 'conduit:keys', disabledTtlMs = 86_400_000 } = options;
  const report = (error: unknown): void => options.onStoreError?.(asError(error));
  const providerPart = (provider: string) => encodeURIComponent(provider);
  const coolKey = (provider: string, i: number) => `${prefix}:cool:${providerPart(provider)}:${i}`;
  const offKey = (provider: string, i: number) => `${prefix}:off:${providerPart(provider)}:${i}`;

  const status = async (provider: string, indexes: number[]): Promise<number[]> => {
    if (indexes.length === 0) return [];
    try {
      const keys = indexes.flatMap((i) => [coolKey(provider, i), offKey(provider, i)]);
      const replies = (await redis.eval(statusScript, { keys })) as number[];
      const now = Date.now();
      return indexes.map((_, n) => {
        if (replies[2 * n + 1] === 1) return DISABLED;
        const left = replies[2 * n] ?? -2;
        return left > 0 ? now + left : 0;
      });
    } catch (error) {
      report(error);
      return indexes.map(() => 0);
    }
  };

  return {
    async cool(provider, keyIndex, ms) {
      if (ms <= 0) return;
      await redis
        .eval(coolScript, {
          keys: [coolKey(provider, keyIndex)],
          arguments: [String(Math.ceil(ms))],
        })
        .catch(report);
    },
    async disable(provider, keyIndex) {
      await redis
        .set(offKey(provider, keyIndex), '1', { expiration: { type: 'PX', value: disabledTtlMs } })
        .catch(report);
    },
    async coolingUntil(provider, keyIndex) {
      const [at] = await status(provider, [keyIndex]);
      return at ?? 0;
    },
    poolStatus(provider, count) {
      return status(
        provider,
        Array.from({ length: count }, (_, i) => i),
      );
    },
    async reset(provider) {
      const who = provider === undefined ? '*' : `${escapeGlob(providerPart(provider))}:*`;
      const base = escapeGlob(prefix);
      await Promise.all([
        unlinkMatching(redis, `${base}:cool:${who}`),
        unlinkMatching(redis, `${base}:off:${who}`),
      ]).catch(report);
    },
  };
}
