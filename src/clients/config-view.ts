/**
 * What the audit log keeps of a config at a reload: its shape without a secret. Provider keys
 * are counted, client keys and digests left out, URLs that may carry a password (Redis, the
 * database, the webhook) reduced to whether they are set; the metrics token too.
 */
import type { Config } from '../config/schema.js';

export function configAuditView(config: Config): Record<string, unknown> {
  return {
    providers: Object.fromEntries(
      Object.entries(config.providers).map(([name, p]) => [
        name,
        { type: p.type, baseUrl: p.baseUrl ?? null, models: p.models, keys: p.keys.length },
      ]),
    ),
    models: Object.fromEntries(
      Object.entries(config.models).map(([alias, route]) => [
        alias,
        {
          strategy: route.strategy,
          targets: route.targets.map((t) => `${t.provider}/${t.model}`),
        },
      ]),
    ),
    clients: config.clients.map((c) => ({
      id: c.id,
      admin: c.admin,
      models: c.models ?? null,
      limits: c.rateLimits,
      budget: c.budget ?? null,
      expiresAt: c.expiresAt ?? null,
    })),
    rateLimits: config.rateLimits,
    pricing: config.pricing,
    cache: { enabled: config.cache.enabled, ttlSeconds: config.cache.ttlSeconds },
    alertsWebhook: config.alerts.webhookUrl !== undefined,
    metricsToken: config.metrics.token !== undefined,
    logging: config.logging,
  };
}
