/**
 * The gateway as services.ts builds it, from its real parts over in-memory state: the router,
 * key pools, breakers, admitter (real limiters and spend counters), response cache, accountant
 * and a SQLite `:memory:` usage store. Providers are the real adapters (echo, or a fake upstream
 * speaking a provider's wire). The records each request leaves are collected as they are made.
 */
import { createAuthenticator } from '../../src/auth.js';
import { parseConfig } from '../../src/config/load.js';
import { createAccountant, createOwedRecords } from '../../src/gateway/account.js';
import { createAdmitter } from '../../src/gateway/admit.js';
import { Breakers } from '../../src/gateway/call.js';
import { createGateway, type CachedAnswer } from '../../src/gateway/gateway.js';
import { createKeyPools } from '../../src/gateway/keys.js';
import { createRouter, LatencyTracker } from '../../src/gateway/route.js';
import type { Caller, Target } from '../../src/gateway/types.js';
export { anonymous } from '../../src/auth.js';
import { Transport } from '../../src/providers/http.js';
import { createProvider } from '../../src/providers/index.js';
import { createResponseCache } from '../../src/state/cache.js';
import { createCooldowns } from '../../src/state/cooldowns.js';
import { createLimiter } from '../../src/state/limits.js';
import { createSpendCounters } from '../../src/state/spend.js';
import { createPricing } from '../../src/usage/prices.js';
import { createUsageStore, type UsageRecord } from '../../src/usage/store.js';
import { onDispose } from '../helpers/dispose.js';

export interface GatewayOptions {
  /** The loadbalance strategy's draw. @default Math.random */
  random?: () => number;
}

export async function startGateway(raw: Record<string, unknown>, options: GatewayOptions = {}) {
  const config = parseConfig(raw, {});
  const transport = new Transport();
  const providers = new Map(
    Object.entries(config.providers).map(([name, p]) => [name, createProvider(name, p, transport)]),
  );
  const pricing = createPricing(config.pricing);
  const breakers = new Breakers(
    config.circuitBreaker.failures,
    config.circuitBreaker.halfOpenAfterMs,
  );
  const latency = new LatencyTracker();
  const perMillion = (target: Target) => pricing.lookup(target.provider, target.model);
  const router = createRouter(config, providers, {
    isOpen: (target) => breakers.isOpen(target),
    latency: (target) => latency.latency(target),
    price: (target) => {
      const price = perMillion(target);
      return price && price.input + price.output;
    },
    ...(options.random && { random: options.random }),
  });
  const keys = createKeyPools(
    new Map(Object.entries(config.providers).map(([name, p]) => [name, p.keys])),
    createCooldowns(),
  );
  const auth = createAuthenticator(config.clients);
  const spend = createSpendCounters();
  const admitter = createAdmitter({
    config,
    clients: (id) => auth.client(id),
    createLimiter: (prefix, limits) => createLimiter({ prefix, limits }),
    spend,
    price: (target) => {
      const price = perMillion(target);
      return price && { input: price.input / 1e6, output: price.output / 1e6 };
    },
    onBudgetAlert: () => {},
  });
  const usage = await createUsageStore({ url: 'sqlite::memory:' });
  const owed = createOwedRecords();
  const records: UsageRecord[] = [];
  const accountant = createAccountant({
    pricing,
    store: usage,
    owed,
    logBodies: config.logging.bodies,
    listeners: [(record) => records.push(record)],
  });
  const cache = createResponseCache<CachedAnswer>({ maxEntries: 1000 });
  const gateway = createGateway({
    config,
    providers,
    router,
    admitter,
    cache,
    accountant,
    keys,
    breakers,
    retry: config.retry,
    onLatency: (target, ms) => latency.observe(target, ms),
  });
  onDispose(async () => {
    keys.close();
    await usage.close();
    await cache.close();
    await transport.close();
  });
  /** The caller a client's key authenticates as. */
  const callerOf = (key: string): Caller => auth.authenticate(key);
  return { config, gateway, router, breakers, latency, admitter, usage, owed, records, callerOf };
}
