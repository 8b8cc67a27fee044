/**
 * Tells the alert webhook, once per key and expiry, that a client's key expires within
 * `alerts.keyExpiryWarningDays`: config clients and runtime ones alike. Checked when the
 * clients change (a start, a reload, a runtime change) and every few minutes; the once-only mark
 * is shared by replicas through the spend counters' marks (Redis when configured).
 */
import type { Alerts } from '../alerts.js';
import type { ClientInfo } from '../auth.js';
import type { Logger } from '../log.js';
import type { SpendCounters } from '../state/spend.js';

const CHECK_EVERY_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export interface ExpiryWatcher {
  /** Which clients to watch from now on (the authenticator's list of the config in force). */
  watch(clients: () => readonly ClientInfo[], warningDays: number): void;
  /** Checks now; resolves when any alerts are sent. */
  check(): Promise<void>;
  close(): void;
}

export function createExpiryWatcher(deps: {
  alerts: Alerts;
  marks: Pick<SpendCounters, 'markOnce'>;
  log: Logger;
}): ExpiryWatcher {
  let source: () => readonly ClientInfo[] = () => [];
  let warningMs = 3 * DAY_MS;
  let running: Promise<void> = Promise.resolve();

  async function check(): Promise<void> {
    const now = Date.now();
    for (const client of source()) {
      const expiresAt = client.expiresAt?.getTime();
      if (expiresAt === undefined || client.revoked) continue;
      if (expiresAt <= now || expiresAt - now > warningMs) continue;
      const mark = `key_expiring:${client.source}:${client.id}:${expiresAt}`;
      // The mark outlives the expiry by a day: an expiry moved later is a new mark.
      if (await deps.marks.markOnce(mark, expiresAt - now + DAY_MS)) {
        deps.alerts.send({
          type: 'key_expiring',
          clientId: client.id,
          source: client.source,
          expiresAt: new Date(expiresAt).toISOString(),
        });
      }
    }
  }

  const queue = (): Promise<void> =>
    (running = running
      .then(check)
      .catch((error: unknown) => deps.log.warn({ err: error }, 'key expiry check failed')));

  const timer = setInterval(() => void queue(), CHECK_EVERY_MS);
  timer.unref();

  return {
    watch(clients, warningDays) {
      source = clients;
      warningMs = warningDays * DAY_MS;
      void queue();
    },
    check: queue,
    close: () => clearInterval(timer),
  };
}
