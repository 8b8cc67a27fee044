/**
 * Alerts (budget thresholds, keys taken out of a pool, client keys expiring soon, clients
 * revoked): one log line each, and a JSON POST to
 * `alerts.webhookUrl` when set. Never awaited on a request's path; a failed POST is logged.
 * An alert names the client or the provider, never a key; what it carries of an upstream's
 * words (a key's refusal) has credential-shaped strings masked.
 */
import { request } from 'undici';
import type { Logger } from './log.js';
import { maskSecrets } from './redact.js';

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
  | { type: 'usage_dropped'; dropped: number }
  /** The request log lagged: entries kept without their bodies, and entries lost (summed). */
  | { type: 'request_log_dropped'; bodies: number; entries: number }
  /** A client's key expires soon (`alerts.keyExpiryWarningDays` ahead); sent once per expiry. */
  | { type: 'key_expiring'; clientId: string; source: 'config' | 'runtime'; expiresAt: string }
  /** A runtime client was revoked (`revokeClient`), by `actor`. */
  | { type: 'client_revoked'; clientId: string; actor: string };

export interface Alerts {
  send(alert: Alert): void;
  /** Sends held drop counts, then resolves when every POST sent so far has finished. */
  settled(): Promise<void>;
}

export interface AlertsOptions {
  /**
   * Dropped usage records are alerted at once, then summed and alerted at most once per this
   * window: a queue overflowing at every request must not send a POST per record. @default 60000
   */
  coalesceMs?: number;
}

export function createAlerts(
  webhookUrl: string | undefined,
  log: Logger,
  options: AlertsOptions = {},
): Alerts {
  const pending = new Set<Promise<void>>();
  const coalesceMs = options.coalesceMs ?? 60_000;
  let heldDrops = 0;
  let window: NodeJS.Timeout | null = null;
  const releaseDrops = (): void => {
    window = null;
    const dropped = heldDrops;
    heldDrops = 0;
    if (dropped > 0) alerts.send({ type: 'usage_dropped', dropped });
  };

  const alerts: Alerts = {
    send(raw) {
      const alert = raw.type === 'key_disabled' ? { ...raw, reason: maskSecrets(raw.reason) } : raw;
      if (alert.type === 'usage_dropped') {
        if (window) {
          heldDrops += alert.dropped;
          return;
        }
        window = setTimeout(releaseDrops, coalesceMs);
        window.unref();
      }
      log.warn({ alert }, `alert: ${alert.type}`);
      if (!webhookUrl) return;
      // Every alert type masked, whatever text a future one carries; masks keep JSON intact.
      const body = maskSecrets(
        JSON.stringify({ ...alert, service: 'conduit', time: new Date().toISOString() }),
      );
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
      // Drops still held in a window are sent now: settled() runs at shutdown.
      if (window && heldDrops > 0) {
        clearTimeout(window);
        releaseDrops();
      }
      await Promise.all([...pending]);
    },
  };
  return alerts;
}
