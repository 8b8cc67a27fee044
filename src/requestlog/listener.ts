/**
 * What connects the request log to the pipeline: the accountant's listener that queues each
 * finished request (when the log is on for its client), the body policy of a config (secrets,
 * credential-shaped strings and `requestLog.redact` patterns masked; the size cap), and the
 * drop alerts, summed so that a lagging store does not send one per request.
 */
import type { Alerts } from '../alerts.js';
import type { RecordListener } from '../gateway/account.js';
import { REDACTED, createRedactor } from '../redact.js';
import type { RequestLogConfig } from './config.js';
import type { RequestLogDrop, RequestLogStore } from './store.js';
import type { BodyPolicy } from './types.js';

/** The parts of the config the listener reads. */
export interface RequestLogSettings {
  requestLog: RequestLogConfig;
  clients: readonly { id: string; requestLog?: { enabled: boolean } | undefined }[];
}

export function bodyPolicyOf(config: RequestLogConfig, secrets: Iterable<string>): BodyPolicy {
  const redactor = createRedactor(secrets);
  const patterns = config.redact.map((source) => new RegExp(source, 'gu'));
  return {
    maxBodyBytes: config.maxBodyBytes,
    mask(text) {
      let out = redactor.mask(text);
      for (const pattern of patterns) out = out.replace(pattern, REDACTED);
      return out;
    },
  };
}

/**
 * The listener queueing finished requests into `store`; undefined when no client has the log on
 * (then the request path does nothing at all for it).
 */
export function requestLogListener(
  settings: RequestLogSettings,
  store: RequestLogStore,
  secrets: Iterable<string>,
): RecordListener | undefined {
  const global = settings.requestLog.enabled;
  const overrides = new Map<string, boolean>();
  for (const client of settings.clients)
    if (client.requestLog && client.requestLog.enabled !== global)
      overrides.set(client.id, client.requestLog.enabled);
  if (!global && overrides.size === 0) return undefined;
  const policy = bodyPolicyOf(settings.requestLog, secrets);
  return (record, outcome) => {
    if (overrides.size > 0 && !(overrides.get(record.clientId) ?? global)) return;
    store.record({ record, outcome, policy });
  };
}

/**
 * Drops alerted at once, then summed and alerted at most once per `windowMs` (as usage drops
 * are): `request_log_dropped` with how many entries lost their bodies and how many were lost.
 */
export function dropAlerts(
  alerts: Pick<Alerts, 'send'>,
  windowMs = 60_000,
): (what: RequestLogDrop, count: number) => void {
  let held = { bodies: 0, entries: 0 };
  let window: NodeJS.Timeout | null = null;
  const release = (): void => {
    window = null;
    if (held.bodies + held.entries === 0) return;
    alerts.send({ type: 'request_log_dropped', ...held });
    held = { bodies: 0, entries: 0 };
    window = setTimeout(release, windowMs).unref();
  };
  return (what, count) => {
    held[what] += count;
    if (!window) release();
  };
}
