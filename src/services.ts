/**
 * What a running Conduit holds. The infrastructure (Redis, the usage store, upstream pools,
 * cache, shared counters, circuit breakers) lives as long as the process; the services built
 * from one config (providers, routing, clients, limits, the gateway) are rebuilt on reload and
 * swapped in, while requests already running finish on the old ones.
 */
import { createAccess, type Access } from './access/credentials.js';
import { createAlerts, type Alerts } from './alerts.js';
import { createAuthenticator, mayUseModel, type Authenticator, type ClientInfo } from './auth.js';
import { createExpiryWatcher, type ExpiryWatcher } from './clients/expiry.js';
import { createClientRegistry, type ClientRegistry } from './clients/registry.js';
import type { Config } from './config/schema.js';
import {
  createProviderHealth,
  type ProviderHealth,
  type ProviderStatus,
} from './events/provider-health.js';
import { createRequestEvents, type RequestEvents } from './events/request-events.js';
import { createAccountant, createOwedRecords, type OwedRecords } from './gateway/account.js';
import { createAdmitter, type Admitter } from './gateway/admit.js';
import { Breakers } from './gateway/call.js';
import { createGateway, type CachedAnswer, type Gateway } from './gateway/gateway.js';
import { createKeyPools, type KeyPools } from './gateway/keys.js';
import { LatencyTracker, createRouter, modelsOf, type Router } from './gateway/route.js';
import type { Caller, Target } from './gateway/types.js';
import { createRequestLog, type Logger } from './log.js';
import { metricNames, type Metrics } from './metrics.js';
import { Transport } from './providers/http.js';
import { createProvider } from './providers/index.js';
import type { Provider } from './providers/types.js';
import { semanticCacheFor } from './semantic/create.js';
import { createSemanticStore, type SemanticStore } from './semantic/store.js';
import { createResponseCache, type ResponseCache } from './state/cache.js';
import { createCooldowns, type Cooldowns } from './state/cooldowns.js';
import { createLimiter, type Limiter } from './state/limits.js';
import { createRedis, type SharedRedis } from './state/redis.js';
import { createSpendCounters, periodOf, type SpendCounters } from './state/spend.js';
import { Counter } from 'prom-client';
import { createRedactor, secretsOf } from './redact.js';
import { dropAlerts, requestLogListener } from './requestlog/listener.js';
import { createRequestLogStore, type RequestLogStore } from './requestlog/store.js';
import { createPricing } from './usage/prices.js';
import { createUsageStore, type UsageStore } from './usage/store.js';

export type { ProviderStatus } from './events/provider-health.js';

/** Lives as long as the process, across config reloads. */
export interface Infrastructure {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly redis: SharedRedis | undefined;
  readonly usage: UsageStore;
  /** Each request's bodies and attempts, in the usage database (`requestLog`). */
  readonly requestLog: RequestLogStore;
  /** Requests begun and not yet recorded, by every gateway since the start. */
  readonly owed: OwedRecords;
  readonly transport: Transport;
  readonly cache: ResponseCache<CachedAnswer>;
  /** The semantic cache's entries (kept across reloads; used only while it is enabled). */
  readonly semantic: SemanticStore;
  readonly cooldowns: Cooldowns;
  readonly spend: SpendCounters;
  readonly breakers: Breakers;
  readonly latency: LatencyTracker;
  readonly alerts: Alerts;
  /** Finished requests as live events, across replicas with Redis. */
  readonly events: RequestEvents;
  /** Providers' circuits and key pools, pushed when they change. */
  readonly health: ProviderHealth;
  /** Runtime clients (admin mutations), kept in the usage database and synced across replicas. */
  readonly clients: ClientRegistry;
  /** Alerts keys expiring soon. */
  readonly expiry: ExpiryWatcher;
  /**
   * The rate limiters of the config in force, by what defines each (its key prefix, which names
   * the client, and its limits): a reload that leaves a limit as it was keeps counting in the
   * same windows; a changed limit starts fresh.
   */
  readonly limiters: Map<string, Limiter>;
  /** Closes the usage store once every request has recorded (bounded), then the rest. */
  close(): Promise<void>;
}

/**
 * How long closing waits for requests still owing their record. Shutdown closes the stores once
 * every request is answered or cut, and a cut request records within milliseconds (its upstream
 * is aborted): this bound is only for one that never records.
 */
const OWED_RECORDS_WAIT_MS = 5_000;

export interface Services {
  readonly config: Config;
  readonly infra: Infrastructure;
  readonly auth: Authenticator;
  /** Keys and tokens (session tokens, external JWTs): what the edges authenticate with. */
  readonly access: Access;
  readonly providers: ReadonlyMap<string, Provider>;
  readonly router: Router;
  readonly keys: KeyPools;
  readonly admitter: Admitter;
  readonly gateway: Gateway;
  readonly usage: UsageStore;
  providerStatuses(): Promise<ProviderStatus[]>;
  modelRoutes(
    caller: Caller,
  ): { alias: string; strategy: Config['models'][string]['strategy']; targets: Target[] }[];
  clientsById(ids: readonly string[]): Promise<(ClientInfo | null)[]>;
  spentUsd(clientId: string): Promise<number>;
  invalidateCache(model?: string): Promise<number>;
  /** The runtime clients changed: budgets of new ones seeded, expiries checked. */
  clientsChanged(): Promise<void>;
}

export async function createInfrastructure(
  config: Config,
  log: Logger,
  metrics: Metrics,
): Promise<Infrastructure> {
  const redis = config.redis ? await createRedis(config.redis.url, log) : undefined;
  const onStoreError = (what: string) => (error: Error) => {
    metrics.storeErrors.inc({ store: what });
    log.warn({ err: error, store: what }, 'shared state unavailable; serving from memory');
  };
  const alerts = createAlerts(config.alerts.webhookUrl, log);
  const usage = await createUsageStore({
    url: config.database.url,
    maxQueue: config.database.maxQueue,
    onDrop: (dropped) => {
      metrics.usageDropped.inc(dropped);
      alerts.send({ type: 'usage_dropped', dropped });
    },
    onError: (error) =>
      log.warn({ err: error }, 'usage store unavailable; records wait in the queue'),
  });
  metrics.trackUsageQueue(() => usage.stats().queued);
  const requestLogDropped = new Counter({
    name: 'conduit_request_log_dropped_total',
    help: 'Request log entries kept without their bodies (bodies) or lost (entries) because the store lagged',
    labelNames: ['what'] as const,
    registers: [metrics.registry],
  });
  const alertDrop = dropAlerts(alerts);
  const requestLog = createRequestLogStore({
    database: usage.database,
    retentionDays: config.requestLog.retentionDays,
    maxQueue: config.requestLog.maxQueue,
    sweepIntervalMs: config.requestLog.sweepIntervalMs,
    onDrop: (what, count) => {
      requestLogDropped.inc({ what }, count);
      alertDrop(what, count);
    },
    onError: (error) => log.warn({ err: error }, 'request log store unavailable; entries wait'),
  });
  const owed = createOwedRecords();
  const transport = new Transport();
  const client = redis?.client;
  const cache = createResponseCache<CachedAnswer>({
    ...(client && { redis: client }),
    maxEntries: config.cache.maxEntries,
    maxBytes: config.cache.maxBytes,
    maxEntryBytes: config.cache.maxEntryBytes,
    onError: onStoreError('cache'),
  });
  const semantic = createSemanticStore({
    ...(client && { redis: client }),
    maxEntriesPerScope: config.cache.semantic.maxEntriesPerScope,
    maxScopes: config.cache.semantic.maxScopes,
    onError: onStoreError('semantic-cache'),
  });
  const breakers = new Breakers(
    config.circuitBreaker.failures,
    config.circuitBreaker.halfOpenAfterMs,
  );
  metrics.trackOpenCircuits(() => breakers.openCount());
  const cooldowns = createCooldowns({
    ...(client && { redis: client }),
    onStoreError: onStoreError('cooldowns'),
  });
  const dropped = new Counter({
    name: 'conduit_request_events_dropped_total',
    help: 'Live events (requestEvents, providerHealth) dropped for a subscriber that read too slowly',
    labelNames: ['subscription'] as const,
    registers: [metrics.registry],
  });
  const events = createRequestEvents({
    queue: config.events.queue,
    channel: config.events.channel,
    onDrop: () => dropped.inc({ subscription: 'requestEvents' }),
    ...(client && { redis: client }),
  });
  const health = createProviderHealth({
    intervalMs: config.events.healthIntervalMs,
    onPoolChange: (listener) => cooldowns.onChange(listener),
    queue: config.events.queue,
    onDrop: () => dropped.inc({ subscription: 'providerHealth' }),
    onError: (error) => log.warn({ err: error }, 'providerHealth could not read the providers'),
  });
  const spend = createSpendCounters({
    ...(client && { redis: client }),
    onStoreError: onStoreError('spend'),
  });
  const clients = await createClientRegistry({
    database: usage.database,
    redis,
    pollIntervalMs: config.runtimeClients.pollIntervalMs,
    log,
    alerts,
  });
  const expiry = createExpiryWatcher({ alerts, marks: spend, log });
  return {
    log,
    metrics,
    redis,
    usage,
    requestLog,
    owed,
    transport,
    cache,
    semantic,
    cooldowns,
    spend,
    breakers,
    latency: new LatencyTracker(),
    alerts,
    events,
    health,
    clients,
    expiry,
    limiters: new Map(),
    async close() {
      expiry.close();
      await clients.close();
      if (!(await owed.settled(OWED_RECORDS_WAIT_MS))) {
        log.warn({ owed: owed.count }, 'closing the usage store with records still owed');
      }
      await requestLog
        .close()
        .catch((error: unknown) => log.warn({ err: error }, 'request log entries not written'));
      // The rest closes even when the last usage records cannot be written (the drop is alerted).
      const flushed = await usage.close().then(
        () => undefined,
        (error: unknown) => error,
      );
      await alerts.settled();
      health.close();
      await events.close();
      await cache.close();
      await semantic.close();
      await cooldowns.close();
      await transport.close();
      await redis?.close();
      if (flushed !== undefined) throw flushed;
    },
  };
}

export async function createServices(config: Config, infra: Infrastructure): Promise<Services> {
  const { log, metrics, usage, cache, breakers, latency, alerts } = infra;
  const providers = new Map<string, Provider>(
    Object.entries(config.providers).map(([name, p]) => [
      name,
      createProvider(name, p, infra.transport),
    ]),
  );
  const auth = createAuthenticator(config.clients, infra.clients);
  for (const runtime of infra.clients.list()) {
    if (config.clients.some((c) => c.id === runtime.id))
      log.warn(
        { client: runtime.id },
        'a config client has the id of a runtime client: the config client wins',
      );
  }
  const access = await createAccess(config, auth);
  const pricing = createPricing(config.pricing);
  const priceOf = (target: Target) =>
    providers.get(target.provider)?.type === 'echo'
      ? { input: 0, output: 0 }
      : pricing.lookup(target.provider, target.model);
  const router = createRouter(config, providers, {
    isOpen: (target) => breakers.isOpen(target),
    latency: (target) => latency.latency(target),
    price: (target) => {
      const price = priceOf(target);
      return price && price.input + price.output;
    },
  });
  const keys = createKeyPools(
    new Map(Object.entries(config.providers).map(([name, p]) => [name, p.keys])),
    infra.cooldowns,
    {
      backoff: (name) => config.providers[name]!.keyProbe,
      refuses: (name, key) =>
        providers
          .get(name)
          ?.probeKey?.(key)
          // 401 only: a key without permission to list models (403) may still chat.
          .then((status) => status === 401),
      onProbed: (provider, keyIndex, restored) =>
        log.info(
          { provider, keyIndex },
          restored ? 'key probe: the key is taken again' : 'key probe: the key is still refused',
        ),
    },
  );
  const redisClient = infra.redis?.client;
  const limiters = new Map<string, Limiter>();
  /** Once the services are built, limiters made for runtime clients are in force at once. */
  let built = false;
  const admitter = createAdmitter({
    config,
    clients: (id) => auth.client(id),
    known: () => auth.clients(),
    userSpent: (clientId, user, period) =>
      usage.userSpentSince(new Date(periodStart(period)), clientId, user),
    createLimiter: (prefix, limits) => {
      const spec = `${prefix} ${JSON.stringify(limits)}`;
      const limiter =
        infra.limiters.get(spec) ??
        createLimiter({
          ...(redisClient && { redis: redisClient }),
          prefix,
          limits,
          onStoreError: (error) => {
            metrics.storeErrors.inc({ store: 'limits' });
            log.warn({ err: error }, 'rate limits counted in memory while Redis is away');
          },
        });
      limiters.set(spec, limiter);
      if (built) infra.limiters.set(spec, limiter);
      return limiter;
    },
    spend: infra.spend,
    price: (target) => {
      const price = priceOf(target);
      return price && { input: price.input / 1e6, output: price.output / 1e6 };
    },
    onBudgetAlert: (alert) => alerts.send({ type: 'budget', ...alert }),
  });
  const names = metricNames(config);
  infra.requestLog.retentionDays = config.requestLog.retentionDays;
  const accountant = createAccountant({
    pricing: {
      lookup: pricing.lookup,
      cost: (usageOf, provider, model, upstreamModel) =>
        providers.get(provider)?.type === 'echo'
          ? { costUsd: 0, priced: true }
          : pricing.cost(usageOf, provider, model, upstreamModel),
    },
    store: usage,
    owed: infra.owed,
    logBodies: config.logging.bodies,
    listeners: [
      (record, outcome) => metrics.observe(record, outcome, names),
      createRequestLog(log, config.logging.bodies),
      (record) => infra.events.publish(record),
      ...optional(requestLogListener(config, infra.requestLog, secretsOf(config))),
    ],
  });
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
    onAfterAnswerError: (error) => log.error({ err: error }, 'recording a finished request failed'),
    semantic: semanticCacheFor(config, infra.semantic, metrics, log),
    mask: createRedactor(secretsOf(config)).mask,
    onKeyDisabled: (provider, keyIndex, error) =>
      alerts.send({
        type: 'key_disabled',
        provider,
        keyIndex,
        reason: `${provider} refused key #${keyIndex + 1}: ${error.message}`,
      }),
  });

  // Budgets are seeded from what the usage store already holds for the current period: the
  // config's clients now, a runtime client's when it appears with a budget.
  const seeded = new Set<string>();
  async function seedBudgets(): Promise<void> {
    for (const client of auth.clients()) {
      if (!client.budget || client.revoked) continue;
      const period = periodOf(client.budget.period);
      const mark = `${client.id}:${period.key}`;
      if (seeded.has(mark)) continue;
      seeded.add(mark);
      const since = new Date(periodStart(client.budget.period));
      const spent = (await usage.spentSince(since, client.id)).get(client.id) ?? 0;
      await infra.spend.seed(client.id, period, spent);
    }
  }
  await seedBudgets();
  // Built in full: these are the limiters in force now (the old ones serve only what is running).
  infra.limiters.clear();
  for (const [spec, limiter] of limiters) infra.limiters.set(spec, limiter);
  built = true;
  infra.expiry.watch(() => auth.clients(), config.alerts.keyExpiryWarningDays);

  const services: Services = {
    config,
    infra,
    auth,
    access,
    providers,
    router,
    keys,
    admitter,
    gateway,
    usage,

    async providerStatuses() {
      return Promise.all(
        [...providers.values()].map(async (provider) => {
          const { available, total } = await keys.counts(provider.name);
          const circuit = breakers.stateOf(provider.name);
          // openai-compatible servers may take no key; with keys given, they need one.
          const needsKey =
            provider.type !== 'echo' && (provider.type !== 'openai-compatible' || total > 0);
          return {
            name: provider.name,
            type: provider.type,
            models: [...provider.models],
            keys: total,
            availableKeys: available,
            healthy: circuit !== 'open' && (!needsKey || available > 0),
            circuit,
          };
        }),
      );
    },

    modelRoutes(caller) {
      const routes = Object.entries(config.models).map(([alias, route]) => ({
        alias,
        strategy: route.strategy,
        targets: route.targets,
      }));
      // Each provider's models by name, as a route of one target.
      for (const provider of providers.values()) {
        for (const model of modelsOf(provider)) {
          routes.push({
            alias: `${provider.name}/${model}`,
            strategy: 'fallback',
            targets: [{ provider: provider.name, model, weight: 1 }],
          });
        }
      }
      return routes.filter((route) => mayUseModel(caller, route.alias));
    },

    async clientsById(ids) {
      return ids.map((id) => auth.client(id) ?? null);
    },

    async spentUsd(clientId) {
      if (auth.client(clientId)?.budget) return admitter.spent(clientId);
      await usage.flush();
      return (await usage.spentSince(new Date(periodStart('month')), clientId)).get(clientId) ?? 0;
    },

    invalidateCache: async (model) =>
      (await cache.invalidate(model)) + (await infra.semantic.clear(model)),

    async clientsChanged() {
      await seedBudgets();
      await infra.expiry.check();
    },
  };
  infra.health.use(() => services.providerStatuses());
  return services;
}

/** Epoch ms the current UTC budget period began. */
function periodStart(period: 'day' | 'week' | 'month', now = new Date()): number {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  if (period === 'day') return Date.UTC(y, m, d);
  if (period === 'week') return Date.UTC(y, m, d - ((now.getUTCDay() + 6) % 7));
  return Date.UTC(y, m, 1);
}

const optional = <T>(value: T | undefined): T[] => (value === undefined ? [] : [value]);
