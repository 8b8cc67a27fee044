/**
 * The router (route.ts) on its own, over the real echo provider and real breakers: each
 * strategy's order (fallback as configured, loadbalance by weight with an injected draw, latency
 * by its moving average, cost by price), open circuits skipped, and names refused clearly.
 */
import { describe, expect, it } from 'vitest';
import { anonymous } from '../../src/auth.js';
import { parseConfig } from '../../src/config/load.js';
import { Breakers } from '../../src/gateway/call.js';
import { UpstreamError } from '../../src/gateway/errors.js';
import { createRouter, LatencyTracker, type RouterDeps } from '../../src/gateway/route.js';
import type { Target } from '../../src/gateway/types.js';
import { Transport } from '../../src/providers/http.js';
import { createProvider } from '../../src/providers/index.js';

const strategies = ['fallback', 'loadbalance', 'latency', 'cost'] as const;
type Strategy = (typeof strategies)[number];

function routerOf(deps: Partial<RouterDeps> & { weights?: number[] } = {}) {
  const weights = deps.weights ?? [1, 1, 1];
  const models = Object.fromEntries(
    strategies.map((strategy) => [
      strategy,
      {
        strategy,
        targets: ['x', 'y', 'z'].map((model, i) => ({ provider: 'e', model, weight: weights[i] })),
      },
    ]),
  );
  const config = parseConfig({ providers: { e: { type: 'echo' } }, models }, {});
  const providers = new Map([['e', createProvider('e', config.providers.e!, new Transport())]]);
  const router = createRouter(config, providers, {
    isOpen: deps.isOpen ?? (() => false),
    latency: deps.latency ?? (() => undefined),
    price: deps.price ?? (() => undefined),
    ...(deps.random && { random: deps.random }),
  });
  const order = (strategy: Strategy) =>
    router.order(router.resolve(strategy, anonymous)).map((t) => t.model);
  return { router, order };
}

/** A small seeded generator (mulberry32): the same draws on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the router', () => {
  it('keeps the configured order for fallback', () => {
    expect(routerOf().order('fallback')).toEqual(['x', 'y', 'z']);
  });

  it('orders loadbalance by the draw, heavier targets first in proportion to their weight', () => {
    // One draw per target: a target's key is draw^(1/weight), highest first.
    const draws = [0.2, 0.9, 0.5];
    let i = 0;
    const fixed = routerOf({ random: () => draws[i++ % 3]! });
    expect(fixed.order('loadbalance')).toEqual(['y', 'z', 'x']);

    const { order } = routerOf({ weights: [1, 3, 1], random: seeded(42) });
    const firsts = { x: 0, y: 0, z: 0 };
    const runs = 20_000;
    for (let n = 0; n < runs; n++) firsts[order('loadbalance')[0] as 'x' | 'y' | 'z']++;
    // The first place goes to a target with the chance weight / total: 1/5, 3/5, 1/5.
    expect(firsts.x / runs).toBeCloseTo(0.2, 1);
    expect(firsts.y / runs).toBeCloseTo(0.6, 1);
    expect(firsts.z / runs).toBeCloseTo(0.2, 1);
  });

  it('orders latency by the moving average, an unmeasured target first', () => {
    const tracker = new LatencyTracker(0.5);
    const target = (model: string): Target => ({ provider: 'e', model, weight: 1 });
    tracker.observe(target('x'), 100);
    tracker.observe(target('y'), 300);
    const { order } = routerOf({ latency: (t) => tracker.latency(t) });
    expect(order('latency')).toEqual(['z', 'x', 'y']);
    // x slows: 900 observed, with alpha 0.5 its average goes 100 → 500, past y's 300.
    tracker.observe(target('x'), 900);
    expect(tracker.latency(target('x'))).toBe(500);
    expect(order('latency')).toEqual(['z', 'y', 'x']);
    tracker.observe(target('z'), 200);
    expect(order('latency')).toEqual(['z', 'y', 'x']);
  });

  it('orders cost by price, cheapest first and an unknown price last', () => {
    const prices: Record<string, number> = { x: 5, z: 1 };
    const { order } = routerOf({ price: (t) => prices[t.model] });
    expect(order('cost')).toEqual(['z', 'x', 'y']);
  });

  it('skips a target whose circuit is open, in every strategy', async () => {
    const breakers = new Breakers(1, 60_000);
    const y: Target = { provider: 'e', model: 'y', weight: 1 };
    await breakers
      .for(y)
      .execute(() => Promise.reject(new UpstreamError({ kind: 'server', message: 'down' })))
      .catch(() => {});
    const { order } = routerOf({ isOpen: (t) => breakers.isOpen(t) });
    for (const strategy of strategies) expect(order(strategy)).not.toContain('y');
    expect(order('fallback')).toEqual(['x', 'z']);
  });

  it('refuses, naming what is wrong, an unknown provider, a model too long, a model not allowed', () => {
    const { router } = routerOf();
    expect(() => router.resolve('nope/m', anonymous)).toThrow(/unknown model "nope\/m"/);
    expect(() => router.resolve(`e/${'m'.repeat(300)}`, anonymous)).toThrow(/at most 256/);
    const limited = { clientId: 'c', admin: false, models: ['fallback'] };
    expect(() => router.resolve('cost', limited)).toThrow(/may not use model "cost"/);
    expect(router.resolve('e/anything', anonymous).targets).toEqual([
      { provider: 'e', model: 'anything', weight: 1 },
    ]);
  });
});
