/**
 * Key cooldowns for provider key pools: a key that got a 429 rests for a while, a key that got a
 * 401 leaves the pool until it is enabled again (its probe answered) or its mark expires. In
 * memory, or in Redis (PX expiry) so every replica skips the same keys; each change is published
 * on a Redis channel, so every replica drops its local view of that pool at once (`version`).
 * Redis failing means "available": a wasted try beats an empty pool.
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
  /**
   * Takes the key out of the pool until `enable` or `reset`, or for `forMs` at most (so a mark
   * nobody clears, its prober gone, still ends). @default forMs: a day
   */
  disable(provider: string, keyIndex: number, forMs?: number): Promise<void>;
  /** Puts a disabled key back in the pool (its probe answered). */
  enable(provider: string, keyIndex: number): Promise<void>;
  /** Epoch ms the key is available again: 0 when available now, DISABLED when disabled. */
  coolingUntil(provider: string, keyIndex: number): Promise<number>;
  /** `coolingUntil` of keys 0..count-1 of a provider, in one round trip. */
  poolStatus(provider: string, count: number): Promise<number[]>;
  /** Forgets rests and disabled marks: of one provider, or all (on config reload). */
  reset(provider?: string): Promise<void>;
  /**
   * A number that changes whenever a key of the provider changes here or, through Redis, in any
   * replica: a local view of the pool taken at another version is stale.
   */
  version(provider: string): number;
  /**
   * Whether every replica's changes reach this process now (always, in memory; in Redis, while
   * the subscription is up): a view at the current version may then be trusted for longer.
   */
  readonly watching: boolean;
  /** Calls `listener` with the provider's name on each such change; returns the unsubscriber. */
  onChange(listener: (provider: string) => void): () => void;
  /** Stops listening to other replicas' changes. */
  close(): Promise<void>;
}

/**
 * Per-provider change counters, plus an epoch for changes to every provider (a reset, or a
 * reconnect after which missed messages are unknown).
 */
function createVersions() {
  const counts = new Map<string, number>();
  const listeners = new Set<(provider: string) => void>();
  let epoch = 0;
  return {
    version: (provider: string) => epoch + (counts.get(provider) ?? 0),
    changed(provider: string | undefined) {
      if (provider === undefined) epoch++;
      else counts.set(provider, (counts.get(provider) ?? 0) + 1);
      for (const listener of listeners) listener(provider ?? '*');
    },
    onChange(listener: (provider: string) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
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
  /** When a disabled mark ends, if nothing enables the key first. */
  const offUntil = new Map<string, number>();
  const versions = createVersions();
  const id = (provider: string, keyIndex: number) => `${provider}\n${keyIndex}`;
  const read = (provider: string, keyIndex: number): number => {
    const key = id(provider, keyIndex);
    const at = until.get(key) ?? 0;
    if (at === DISABLED && (offUntil.get(key) ?? DISABLED) > Date.now()) return at;
    if (at !== DISABLED && at > Date.now()) return at;
    until.delete(key);
    offUntil.delete(key);
    return 0;
  };
  return {
    async cool(provider, keyIndex, ms) {
      const at = Date.now() + ms;
      if (ms > 0 && at > read(provider, keyIndex)) {
        until.set(id(provider, keyIndex), at);
        versions.changed(provider);
      }
    },
    async disable(provider, keyIndex, forMs = defaultDisabledMs) {
      until.set(id(provider, keyIndex), DISABLED);
      offUntil.set(id(provider, keyIndex), Date.now() + forMs);
      versions.changed(provider);
    },
    async enable(provider, keyIndex) {
      if (until.get(id(provider, keyIndex)) !== DISABLED) return;
      until.delete(id(provider, keyIndex));
      offUntil.delete(id(provider, keyIndex));
      versions.changed(provider);
    },
    async coolingUntil(provider, keyIndex) {
      return read(provider, keyIndex);
    },
    async poolStatus(provider, count) {
      return Array.from({ length: count }, (_, i) => read(provider, i));
    },
    async reset(provider) {
      for (const key of [...until.keys()]) {
        if (provider !== undefined && !key.startsWith(`${provider}\n`)) continue;
        until.delete(key);
        offUntil.delete(key);
      }
      versions.changed(provider);
    },
    version: versions.version,
    watching: true,
    onChange: versions.onChange,
    async close() {},
  };
}

/** How long a disabled mark lasts when the caller gives no time. */
const defaultDisabledMs = 86_400_000;

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
  const { prefix = 'conduit:keys', disabledTtlMs = defaultDisabledMs } = options;
  const report = (error: unknown): void => options.onStoreError?.(asError(error));
  const versions = createVersions();
  const changes = listenForChanges(redis, `${prefix}:changed`, versions.changed);
  /** Tells this process and every replica that a pool changed (`*`: every pool). */
  const announce = async (provider: string | undefined): Promise<void> => {
    versions.changed(provider);
    await redis.publish(`${prefix}:changed`, provider ?? '*').catch(report);
  };
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
      const set = await redis
        .eval(coolScript, {
          keys: [coolKey(provider, keyIndex)],
          arguments: [String(Math.ceil(ms))],
        })
        .catch(report);
      if (set === 1) await announce(provider);
    },
    async disable(provider, keyIndex, forMs = disabledTtlMs) {
      await redis
        .set(offKey(provider, keyIndex), '1', {
          expiration: { type: 'PX', value: Math.max(1, Math.ceil(forMs)) },
        })
        .catch(report);
      await announce(provider);
    },
    async enable(provider, keyIndex) {
      const removed = await redis.unlink(offKey(provider, keyIndex)).catch(report);
      if (removed) await announce(provider);
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
      await announce(provider);
    },
    version: versions.version,
    get watching() {
      return changes.watching;
    },
    onChange: versions.onChange,
    close: () => changes.close(),
  };
}

/**
 * Subscribes to `channel` on a connection of its own (a subscribed connection can do nothing
 * else), calling `changed` with each provider named there. After a reconnect, messages may have
 * been missed: every pool counts as changed. Its outages are the shared client's too, and logged
 * there; while it is away, views fall back to their short time to live.
 */
function listenForChanges(
  redis: RedisClient,
  channel: string,
  changed: (provider: string | undefined) => void,
): { readonly watching: boolean; close(): Promise<void> } {
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  let subscribed = false;
  /** The subscription is confirmed: set once it is, cleared when the connection drops. */
  let confirmed = false;
  subscriber.on('reconnecting', () => (confirmed = false));
  subscriber.on('end', () => (confirmed = false));
  subscriber.on('ready', () => {
    changed(undefined);
    if (subscribed) {
      confirmed = true; // node-redis subscribes again by itself after a reconnect
      return;
    }
    subscribed = true;
    subscriber
      .subscribe(channel, (message) => changed(message === '*' ? undefined : message))
      .then(() => (confirmed = subscriber.isReady))
      .catch(() => (subscribed = false));
  });
  subscriber.connect().catch(() => {
    // It keeps reconnecting; only close() ends that.
  });
  return {
    get watching() {
      return confirmed && subscriber.isReady;
    },
    async close() {
      if (!subscriber.isOpen) return;
      if (subscriber.isReady) await subscriber.close().catch(() => subscriber.destroy());
      else subscriber.destroy();
    },
  };
}
