/**
 * One contract suite per state interface, run against every implementation (memory, Redis), as
 * keyv does with its test-suite package. Each factory gets a fresh namespace per test, so tests
 * never see each other's keys.
 */
import { afterEach, expect, it, vi } from 'vitest';
import type { RateLimit } from '../../src/config/schema.js';
import type { ResponseCache } from '../../src/state/cache.js';
import { DISABLED, type Cooldowns } from '../../src/state/cooldowns.js';
import type { Limiter } from '../../src/state/limits.js';
import { periodOf, type SpendCounters } from '../../src/state/spend.js';

type Fresh<T> = (namespace: string) => T | Promise<T>;

let serial = 0;
const namespace = (): string => `t${++serial}`;

/** Polls until `check` passes: for expiries, which happen in time rather than on an event. */
const eventually = (check: () => Promise<void>) =>
  vi.waitFor(check, { timeout: 3000, interval: 10 });

interface Answer {
  content: string;
  usage: { promptTokens: number };
}
const answer = (content: string): Answer => ({ content, usage: { promptTokens: 3 } });

/** A fresh cache; `maxEntryBytes` is passed on when a test sets it. */
export type MakeCache = (
  namespace: string,
  limits?: { maxEntryBytes: number },
) => ResponseCache<Answer> | Promise<ResponseCache<Answer>>;

export function cacheSuite(makeCache: MakeCache): void {
  const open: ResponseCache<Answer>[] = [];
  const make = async (ns: string, limits?: { maxEntryBytes: number }) => {
    const cache = await makeCache(ns, limits);
    open.push(cache);
    return cache;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((cache) => cache.close()));
  });

  it('misses a key never set', async () => {
    const cache = await make(namespace());
    expect(await cache.get({ model: 'm', hash: 'h' })).toBeUndefined();
  });

  it('returns what was set, per model and hash', async () => {
    const cache = await make(namespace());
    await cache.set({ model: 'm', hash: 'h1' }, answer('one'), 60_000);
    await cache.set({ model: 'm', hash: 'h2' }, answer('two'), 60_000);
    expect(await cache.get({ model: 'm', hash: 'h1' })).toEqual(answer('one'));
    expect(await cache.get({ model: 'm', hash: 'h2' })).toEqual(answer('two'));
    expect(await cache.get({ model: 'other', hash: 'h1' })).toBeUndefined();
  });

  it('replaces an entry set twice', async () => {
    const cache = await make(namespace());
    await cache.set({ model: 'm', hash: 'h' }, answer('old'), 60_000);
    await cache.set({ model: 'm', hash: 'h' }, answer('new'), 60_000);
    expect(await cache.get({ model: 'm', hash: 'h' })).toEqual(answer('new'));
  });

  it('forgets an entry after its TTL', async () => {
    const cache = await make(namespace());
    await cache.set({ model: 'm', hash: 'short' }, answer('x'), 30);
    await cache.set({ model: 'm', hash: 'long' }, answer('y'), 60_000);
    await eventually(async () =>
      expect(await cache.get({ model: 'm', hash: 'short' })).toBeUndefined(),
    );
    expect(await cache.get({ model: 'm', hash: 'long' })).toEqual(answer('y'));
  });

  it("invalidates one model's entries and counts them, even when models contain ':'", async () => {
    const cache = await make(namespace());
    await cache.set({ model: 'a', hash: '1' }, answer('a1'), 60_000);
    await cache.set({ model: 'a', hash: '2' }, answer('a2'), 60_000);
    await cache.set({ model: 'a:b', hash: '1' }, answer('ab'), 60_000);
    await cache.set({ model: 'ollama/*', hash: '1' }, answer('glob'), 60_000);
    expect(await cache.invalidate('a')).toBe(2);
    expect(await cache.get({ model: 'a', hash: '1' })).toBeUndefined();
    expect(await cache.get({ model: 'a:b', hash: '1' })).toEqual(answer('ab'));
    expect(await cache.invalidate('ollama/*')).toBe(1);
    expect(await cache.get({ model: 'a:b', hash: '1' })).toEqual(answer('ab'));
  });

  it('does not store an answer larger than maxEntryBytes, and drops the one it replaces', async () => {
    const cache = await make(namespace(), { maxEntryBytes: 1000 });
    const small = answer('s'.repeat(500));
    const big = answer('b'.repeat(2000));
    await cache.set({ model: 'm', hash: 'small' }, small, 60_000);
    await cache.set({ model: 'm', hash: 'big' }, big, 60_000);
    expect(await cache.get({ model: 'm', hash: 'small' })).toEqual(small);
    expect(await cache.get({ model: 'm', hash: 'big' })).toBeUndefined();
    // A refresh that came back too big leaves no stale answer behind.
    await cache.set({ model: 'm', hash: 'small' }, big, 60_000);
    expect(await cache.get({ model: 'm', hash: 'small' })).toBeUndefined();
  });

  it('invalidates every entry of its namespace and counts them', async () => {
    const cache = await make(namespace());
    const neighbour = await make(namespace());
    await cache.set({ model: 'a', hash: '1' }, answer('a'), 60_000);
    await cache.set({ model: 'b', hash: '1' }, answer('b'), 60_000);
    await neighbour.set({ model: 'a', hash: '1' }, answer('n'), 60_000);
    expect(await cache.invalidate()).toBe(2);
    expect(await cache.get({ model: 'b', hash: '1' })).toBeUndefined();
    expect(await neighbour.get({ model: 'a', hash: '1' })).toEqual(answer('n'));
    expect(await cache.invalidate()).toBe(0);
  });
}

export type MakeLimiter = (namespace: string, limits: RateLimit[]) => Limiter | Promise<Limiter>;

export function limiterSuite(make: MakeLimiter): void {
  const fresh = (limits: RateLimit[]) => make(namespace(), limits);

  it('admits the limit, then refuses with the time until the window resets', async () => {
    const limiter = await fresh([{ requests: 3, perSeconds: 60 }]);
    for (let i = 0; i < 3; i++)
      expect((await limiter.check('k', { requests: 1, tokens: 0 })).ok).toBe(true);
    const refused = await limiter.check('k', { requests: 1, tokens: 0 });
    expect(refused).toMatchObject({ ok: false, limit: { requests: 3, perSeconds: 60 } });
    if (refused.ok) return;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('counts each key on its own', async () => {
    const limiter = await fresh([{ requests: 1, perSeconds: 60 }]);
    expect((await limiter.check('a', { requests: 1, tokens: 0 })).ok).toBe(true);
    expect((await limiter.check('b', { requests: 1, tokens: 0 })).ok).toBe(true);
    expect((await limiter.check('a', { requests: 1, tokens: 0 })).ok).toBe(false);
  });

  it('admits everything when there are no limits', async () => {
    const limiter = await fresh([]);
    for (let i = 0; i < 5; i++) {
      expect((await limiter.check('k', { requests: 1, tokens: 1e9 })).ok).toBe(true);
    }
  });

  it('takes nothing from any window when one window refuses', async () => {
    const limiter = await fresh([
      { requests: 2, perSeconds: 60 },
      { tokens: 100, perSeconds: 60 },
    ]);
    expect((await limiter.check('k', { requests: 1, tokens: 80 })).ok).toBe(true);
    // Refused by tokens: neither its request nor its tokens may stay counted.
    expect(await limiter.check('k', { requests: 1, tokens: 30 })).toMatchObject({
      ok: false,
      limit: { tokens: 100 },
    });
    expect((await limiter.check('k', { requests: 1, tokens: 20 })).ok).toBe(true);
    // Two requests now: the requests window refuses, and gives its tokens back.
    expect(await limiter.check('k', { requests: 1, tokens: 0 })).toMatchObject({
      ok: false,
      limit: { requests: 2 },
    });
  });

  it('settles a token reservation to the real usage, both ways', async () => {
    const limiter = await fresh([{ tokens: 100, perSeconds: 60 }]);
    const first = await limiter.check('k', { requests: 1, tokens: 90 });
    if (!first.ok) throw new Error('first check refused');
    await limiter.settle(first.reservation, 10); // 90 reserved, 10 used: 80 back
    const second = await limiter.check('k', { requests: 1, tokens: 50 });
    if (!second.ok) throw new Error('second check refused');
    await limiter.settle(second.reservation, 85); // 35 more than reserved: 95 in all
    expect((await limiter.check('k', { requests: 1, tokens: 6 })).ok).toBe(false);
    expect((await limiter.check('k', { requests: 1, tokens: 5 })).ok).toBe(true);
  });
  it('gives everything back on release, and settles a released reservation to nothing', async () => {
    const limiter = await fresh([
      { requests: 1, perSeconds: 60 },
      { tokens: 100, perSeconds: 60 },
    ]);
    const first = await limiter.check('k', { requests: 1, tokens: 100 });
    if (!first.ok) throw new Error('first check refused');
    expect((await limiter.check('k', { requests: 1, tokens: 0 })).ok).toBe(false);
    await limiter.release(first.reservation);
    await limiter.release(first.reservation); // twice gives back once
    await limiter.settle(first.reservation, 0);
    const second = await limiter.check('k', { requests: 1, tokens: 100 });
    expect(second.ok).toBe(true);
    expect((await limiter.check('k', { requests: 1, tokens: 0 })).ok).toBe(false);
  });
}

export function cooldownSuite(make: Fresh<Cooldowns>): void {
  it('has every key available at first', async () => {
    const cooldowns = await make(namespace());
    expect(await cooldowns.coolingUntil('openai', 0)).toBe(0);
    expect(await cooldowns.poolStatus('openai', 3)).toEqual([0, 0, 0]);
  });

  it('rests a key until a time, leaving the others and other providers available', async () => {
    const cooldowns = await make(namespace());
    const before = Date.now();
    await cooldowns.cool('openai', 1, 60_000);
    const until = await cooldowns.coolingUntil('openai', 1);
    expect(until).toBeGreaterThanOrEqual(before + 59_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 60_000);
    const status = await cooldowns.poolStatus('openai', 3);
    expect(status[0]).toBe(0);
    expect(status[1]).toBeGreaterThan(before);
    expect(status[2]).toBe(0);
    expect(await cooldowns.coolingUntil('anthropic', 1)).toBe(0);
  });

  it('keeps a longer rest when a shorter one comes', async () => {
    const cooldowns = await make(namespace());
    await cooldowns.cool('p', 0, 60_000);
    await cooldowns.cool('p', 0, 1_000);
    expect(await cooldowns.coolingUntil('p', 0)).toBeGreaterThan(Date.now() + 50_000);
  });

  it('makes a key available again when its rest ends', async () => {
    const cooldowns = await make(namespace());
    await cooldowns.cool('p', 0, 30);
    expect(await cooldowns.coolingUntil('p', 0)).toBeGreaterThan(0);
    await eventually(async () => expect(await cooldowns.coolingUntil('p', 0)).toBe(0));
  });

  it('disables a key until reset, per provider or for all', async () => {
    const cooldowns = await make(namespace());
    await cooldowns.disable('p', 1);
    await cooldowns.disable('q', 0);
    await cooldowns.cool('q', 1, 60_000);
    expect(await cooldowns.poolStatus('p', 2)).toEqual([0, DISABLED]);
    await cooldowns.reset('p');
    expect(await cooldowns.coolingUntil('p', 1)).toBe(0);
    expect(await cooldowns.coolingUntil('q', 0)).toBe(DISABLED);
    await cooldowns.reset();
    expect(await cooldowns.poolStatus('q', 2)).toEqual([0, 0]);
  });
}

export function spendSuite(make: Fresh<SpendCounters>): void {
  const month = periodOf('month');
  const now = periodOf('day');

  it('reserves within the limit and counts what was reserved', async () => {
    const spend = await make(namespace());
    expect(await spend.reserve('c', now, 4, 10)).toEqual({ ok: true });
    expect(await spend.reserve('c', now, 6, 10)).toEqual({ ok: true });
    expect(await spend.spent('c', now)).toBe(10);
    expect(await spend.reserve('c', now, 0, 10)).toEqual({ ok: false, spentUsd: 10 });
    expect(await spend.spent('other', now)).toBe(0);
  });

  it('refuses a reservation that would pass the limit and takes nothing', async () => {
    const spend = await make(namespace());
    await spend.reserve('c', now, 7, 10);
    expect(await spend.reserve('c', now, 4, 10)).toEqual({ ok: false, spentUsd: 7 });
    expect(await spend.spent('c', now)).toBe(7);
  });

  it('counts cents exactly', async () => {
    const spend = await make(namespace());
    for (let i = 0; i < 3; i++) expect((await spend.reserve('c', now, 0.1, 0.3)).ok).toBe(true);
    expect((await spend.reserve('c', now, 0.000001, 0.3)).ok).toBe(false);
    expect(await spend.spent('c', now)).toBe(0.3);
  });

  it('settles a reservation to the real cost, both ways', async () => {
    const spend = await make(namespace());
    await spend.reserve('c', now, 2, 10);
    await spend.settle('c', now, 2, 0.5);
    expect(await spend.spent('c', now)).toBe(0.5);
    await spend.reserve('c', now, 1, 10);
    await spend.settle('c', now, 1, 3);
    expect(await spend.spent('c', now)).toBe(3.5);
  });

  it('seeds a counter once, so replicas do not add the same history twice', async () => {
    const spend = await make(namespace());
    expect(await spend.seed('c', month, 12.5)).toBe(true);
    expect(await spend.seed('c', month, 12.5)).toBe(false);
    expect(await spend.spent('c', month)).toBe(12.5);
    expect(await spend.reserve('c', month, 1, 13)).toEqual({ ok: false, spentUsd: 12.5 });
  });

  it('keeps periods apart', async () => {
    const spend = await make(namespace());
    await spend.reserve('c', month, 5, 10);
    expect(await spend.spent('c', periodOf('month', new Date(month.endsAt)))).toBe(0);
  });

  it('never lets concurrent reservations pass the limit', async () => {
    const spend = await make(namespace());
    const results = await Promise.all(
      Array.from({ length: 40 }, () => spend.reserve('c', now, 0.5, 10)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    expect(await spend.spent('c', now)).toBe(10);
  });

  it('marks a key once', async () => {
    const spend = await make(namespace());
    expect(await spend.markOnce('alert:c:0.8')).toBe(true);
    expect(await spend.markOnce('alert:c:0.8')).toBe(false);
    expect(await spend.markOnce('alert:c:1')).toBe(true);
  });
}
