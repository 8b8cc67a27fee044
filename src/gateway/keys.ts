/** Each provider's key pool, spread round-robin. Cooldowns and removal come with traffic control. */
export interface PoolKey {
  index: number;
  value: string;
}

export interface KeyPools {
  next(provider: string): PoolKey | undefined;
  /** [available, total] */
  counts(provider: string): { available: number; total: number };
}

export function createKeyPools(keys: ReadonlyMap<string, readonly string[]>): KeyPools {
  const cursors = new Map<string, number>();
  return {
    next(provider) {
      const pool = keys.get(provider);
      if (!pool || pool.length === 0) return undefined;
      const cursor = cursors.get(provider) ?? 0;
      cursors.set(provider, (cursor + 1) % pool.length);
      return { index: cursor, value: pool[cursor]! };
    },
    counts(provider) {
      const total = keys.get(provider)?.length ?? 0;
      return { available: total, total };
    },
  };
}
