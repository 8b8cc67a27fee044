/**
 * Alerts (budget thresholds, keys taken out of a pool): one log line each, and a JSON POST to
 * `alerts.webhookUrl` when set. Never awaited on a request's path; a failed POST is logged.
 * An alert names the client or the provider, never a key.
 */
import { request } from 'undici';
import type { Logger } from './log.js';

export type Alert =
  | {
      type: 'budget';
      clientId: string;
      threshold: number;
      budgetUsd: number;
      spentUsd: number;
      period: string;
    }
  | { type: 'key_disabled'; provider: string; keyIndex: number; reason: string }
  | { type: 'usage_dropped'; dropped: number };

export interface Alerts {
  send(alert: Alert): void;
  /** Resolves when every POST sent so far has finished (tests, shutdown). */
  settled(): Promise<void>;
}

export function createAlerts(webhookUrl: string | undefined, log: Logger): Alerts {
  const pending = new Set<Promise<void>>();
  return {
    send(alert) {
      log.warn({ alert }, `alert: ${alert.type}`);
      if (!webhookUrl) return;
      const body = JSON.stringify({ ...alert, service: 'conduit', time: new Date().toISOString() });
      const sent = request(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        headersTimeout: 5000,
        bodyTimeout: 5000,
      })
        .then(async (response) => {
          await response.body.dump();
          if (response.statusCode >= 400)
            log.warn({ status: response.statusCode }, 'alert webhook refused the alert');
        })
        .catch((error: unknown) => log.warn({ err: error }, 'alert webhook unreachable'))
        .finally(() => pending.delete(sent));
      pending.add(sent);
    },
    async settled() {
      await Promise.all([...pending]);
    },
  };
}
