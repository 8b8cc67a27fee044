/**
 * Each provider's key pool: round-robin over the keys that are neither resting (after a 429)
 * nor disabled (after a 401). Rests and disabled marks live in Cooldowns (memory or Redis, so
 * every replica skips the same keys); a short local view spares a Redis round trip per request.
 */
import type { Cooldowns } from '../state/cooldowns.js';

export interface PoolKey {
  index: number;
  value: string;
}

export interface KeyPools {
  /**
   * The next usable key, skipping `exclude`d indexes. `undefined`: the provider takes no key;
   * `null`: it has keys but none is usable now.
   */
  next(provider: string, exclude?: ReadonlySet<number>): Promise<PoolKey | null | undefined>;
  /** Rests a key that got a 429 for `ms`. */
  cool(provider: string, index: number, ms: number): Promise<void>;
  /** Takes a key that got a 401 out of the pool until the config is reloaded. */
  disable(provider: string, index: number): Promise<void>;
  counts(provider: string): Promise<{ available: number; total: number }>;
}

/** How long a fetched pool status is trusted before asking the store again. */
const viewTtlMs = 250;

export function createKeyPools(
  keys: ReadonlyMap<string, readonly string[]>,
  cooldowns: Cooldowns,
): KeyPools {
  const cursors = new Map<string, number>();
  const views = new Map<string, { at: number; until: number[] }>();

  async function status(provider: string, count: number): Promise<number[]> {
    const now = Date.now();
    const view = views.get(provider);
    if (view && now - view.at < viewTtlMs) return view.until;
    const until = await cooldowns.poolStatus(provider, count);
    views.set(provider, { at: now, until });
    return until;
  }

  return {
    async next(provider, exclude) {
      const pool = keys.get(provider);
      if (!pool || pool.length === 0) return undefined;
      const until = await status(provider, pool.length);
      const now = Date.now();
      const start = cursors.get(provider) ?? 0;
      for (let step = 0; step < pool.length; step++) {
        const index = (start + step) % pool.length;
        if (exclude?.has(index) || (until[index] ?? 0) > now) continue;
        cursors.set(provider, (index + 1) % pool.length);
        return { index, value: pool[index]! };
      }
      return null;
    },

    async cool(provider, index, ms) {
      views.delete(provider);
      await cooldowns.cool(provider, index, ms);
    },

    async disable(provider, index) {
      views.delete(provider);
      await cooldowns.disable(provider, index);
    },

    async counts(provider) {
      const total = keys.get(provider)?.length ?? 0;
      if (total === 0) return { available: 0, total };
      const until = await cooldowns.poolStatus(provider, total);
      const now = Date.now();
      return { available: until.filter((at) => at <= now).length, total };
    },
  };
}
