/**
 * Each provider's key pool: round-robin over the keys that are neither resting (after a 429)
 * nor disabled (after a 401). Rests and disabled marks live in Cooldowns (memory or Redis, so
 * every replica skips the same keys); a short local view spares a Redis round trip per request,
 * and is dropped as soon as any replica changes the pool (Cooldowns' version).
 *
 * A disabled key is not gone for good: one tenant's request must not take a shared key away
 * from every tenant until a reload. After a wait it is probed (one cheap call with it) and put
 * back when the provider takes it; still refused, it waits twice as long, up to a cap. A
 * provider with no such call lets the key back on trial: the next request may use it, and a
 * 401 again disables it for longer.
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
  /** Takes a key that got a 401 out of the pool until its probe finds it taken again. */
  disable(provider: string, index: number): Promise<void>;
  counts(provider: string): Promise<{ available: number; total: number }>;
  /** Cancels the probes still waiting (the pools are being replaced or the process stops). */
  close(): void;
}

export interface KeyProbeOptions {
  /** The first wait after a refusal, and the longest, per provider. */
  backoff(provider: string): { afterMs: number; maxAfterMs: number };
  /**
   * One cheap call with the key: true when the provider refused it again (401). Undefined
   * when the provider has no such call: the key is then let back on trial.
   */
  refuses(provider: string, key: string): Promise<boolean> | undefined;
  /** A probe ended: the key is back in the pool, or still refused. */
  onProbed?(provider: string, index: number, restored: boolean): void;
}

/**
 * How long a fetched pool status is trusted before asking the store again: while every
 * replica's changes reach this process (Cooldowns.watching), a change makes the view stale at
 * once and the time only bounds a message lost in a reconnect; else a short time is all there is.
 */
const viewTtlMs = { watching: 5000, blind: 250 };

/**
 * How long a disabled mark outlives the wait before its probe: enough for the probe to answer.
 * If the process that holds the probe is gone, the mark still ends and the key is on trial.
 */
const probeGraceMs = 60_000;

export function createKeyPools(
  keys: ReadonlyMap<string, readonly string[]>,
  cooldowns: Cooldowns,
  probe?: KeyProbeOptions,
): KeyPools {
  const cursors = new Map<string, number>();
  const views = new Map<string, { at: number; version: number; until: number[] }>();
  /** Per `${provider}\n${index}`: refusals in a row, and when the key was last put back. */
  const strikes = new Map<string, { count: number; restoredAt?: number }>();
  const timers = new Map<string, NodeJS.Timeout>();

  async function status(provider: string, count: number): Promise<number[]> {
    const now = Date.now();
    const version = cooldowns.version(provider);
    const view = views.get(provider);
    const ttl = cooldowns.watching ? viewTtlMs.watching : viewTtlMs.blind;
    if (view && view.version === version && now - view.at < ttl) return view.until;
    const until = await cooldowns.poolStatus(provider, count);
    views.set(provider, { at: now, version, until });
    return until;
  }

  /** The wait before the next probe: doubling with each refusal in a row, up to the cap. */
  function waitFor(provider: string, id: string): number {
    const { afterMs, maxAfterMs } = probe!.backoff(provider);
    const now = Date.now();
    const last = strikes.get(id);
    // A key that stayed good for a while after it came back starts over.
    const fresh =
      !last || (last.restoredAt !== undefined && now - last.restoredAt > 2 * maxAfterMs);
    const count = fresh ? 1 : last.count + 1;
    strikes.set(id, { count });
    return Math.min(maxAfterMs, afterMs * 2 ** Math.min(count - 1, 30));
  }

  async function takeOut(provider: string, index: number): Promise<void> {
    views.delete(provider);
    if (!probe) return cooldowns.disable(provider, index);
    const id = `${provider}\n${index}`;
    if (timers.has(id)) return; // already out, its probe waiting
    const wait = waitFor(provider, id);
    const markSet = cooldowns.disable(provider, index, wait + probeGraceMs);
    // Set before the await: a second 401 on the same key, arriving meanwhile, finds it.
    const timer = setTimeout(() => {
      timers.delete(id);
      // After the mark is written: a probe's answer must not be undone by a late mark.
      markSet
        .then(() => probeKey(provider, index, id))
        .catch(() => {
          // Cooldowns report their own store errors; nothing is left to do with a failed probe.
        });
    }, wait);
    timer.unref();
    timers.set(id, timer);
    await markSet;
  }

  async function probeKey(provider: string, index: number, id: string): Promise<void> {
    const value = keys.get(provider)?.[index];
    if (value === undefined) return;
    // Anything but a refusal (an answer, an error, no probe at all) puts the key back: the
    // requests that use it next decide.
    let refused = false;
    try {
      refused = (await probe!.refuses(provider, value)) ?? false;
    } catch {
      refused = false;
    }
    if (refused) {
      await takeOut(provider, index);
    } else {
      strikes.set(id, { count: strikes.get(id)?.count ?? 0, restoredAt: Date.now() });
      views.delete(provider);
      await cooldowns.enable(provider, index);
    }
    probe!.onProbed?.(provider, index, !refused);
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

    disable: takeOut,

    async counts(provider) {
      const total = keys.get(provider)?.length ?? 0;
      if (total === 0) return { available: 0, total };
      const until = await cooldowns.poolStatus(provider, total);
      const now = Date.now();
      return { available: until.filter((at) => at <= now).length, total };
    },

    close() {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
