/**
 * Everything a running Conduit holds, built from one Config: providers, routing, key pools,
 * the usage store and the gateway. The edges (GraphQL, REST) reach the core only through this.
 */
import { createAuthenticator, mayUseModel, type Authenticator, type ClientInfo } from './auth.js';
import type { Config } from './config/schema.js';
import { createAccountant } from './gateway/account.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import { createKeyPools, type KeyPools } from './gateway/keys.js';
import { createRouter, type Router } from './gateway/route.js';
import type { Caller, Target } from './gateway/types.js';
import { createProvider } from './providers/index.js';
import { Transport } from './providers/http.js';
import type { Provider } from './providers/types.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { createPricing } from './usage/prices.js';
import { createUsageStore, type UsageStore } from './usage/store.js';

export interface ProviderStatus {
  name: string;
  type: string;
  models: string[];
  keys: number;
  availableKeys: number;
  healthy: boolean;
  circuit: 'closed' | 'open' | 'half-open';
}

export interface Services {
  readonly config: Config;
  readonly auth: Authenticator;
  readonly providers: ReadonlyMap<string, Provider>;
  readonly router: Router;
  readonly keys: KeyPools;
  readonly gateway: Gateway;
  readonly usage: UsageStore;
  providerStatuses(): ProviderStatus[];
  modelRoutes(
    caller: Caller,
  ): { alias: string; strategy: Config['models'][string]['strategy']; targets: Target[] }[];
  clientsById(ids: readonly string[]): Promise<(ClientInfo | null)[]>;
  spentUsd(clientId: string): Promise<number>;
  invalidateCache(model?: string): Promise<number>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  log: Logger;
  metrics: Metrics;
}

export async function createServices(
  config: Config,
  { log, metrics }: ServiceOptions,
): Promise<Services> {
  const transport = new Transport();
  const providers = new Map<string, Provider>(
    Object.entries(config.providers).map(([name, p]) => [name, createProvider(name, p, transport)]),
  );
  const auth = createAuthenticator(config.clients);
  const router = createRouter(config, providers);
  const keys = createKeyPools(
    new Map(Object.entries(config.providers).map(([name, p]) => [name, p.keys])),
  );
  const usage = await createUsageStore({ url: config.database.url });
  const pricing = createPricing(config.pricing);
  const accountant = createAccountant({
    pricing,
    store: usage,
    logBodies: config.logging.bodies,
    listeners: [
      (record) => metrics.observe(record),
      (record) =>
        log.info({ ...record, time: undefined, prompt: undefined, response: undefined }, 'request'),
    ],
  });
  const gateway = createGateway({ providers, router, keys, accountant });

  return {
    config,
    auth,
    providers,
    router,
    keys,
    gateway,
    usage,

    providerStatuses() {
      return [...providers.values()].map((provider) => {
        const { available, total } = keys.counts(provider.name);
        const needsKey = provider.type !== 'echo' && provider.type !== 'openai-compatible';
        return {
          name: provider.name,
          type: provider.type,
          models: [...provider.models],
          keys: total,
          availableKeys: available,
          healthy: !needsKey || available > 0,
          circuit: 'closed',
        };
      });
    },

    modelRoutes(caller) {
      return Object.entries(config.models)
        .filter(([alias]) => mayUseModel(caller, alias))
        .map(([alias, route]) => ({ alias, strategy: route.strategy, targets: route.targets }));
    },

    async clientsById(ids) {
      return ids.map((id) => auth.client(id) ?? null);
    },

    async spentUsd(clientId) {
      const since = new Date();
      since.setUTCDate(1);
      since.setUTCHours(0, 0, 0, 0);
      await usage.flush();
      return (await usage.spentSince(since)).get(clientId) ?? 0;
    },

    async invalidateCache() {
      return 0;
    },

    async close() {
      await usage.close();
      await Promise.all([...providers.values()].map((p) => p.close()));
      await transport.close();
    },
  };
}
