/**
 * Finished requests as live events (`requestEvents` subscription). The accountant hands every
 * usage record to `publish`; with nobody listening it returns at once, before building anything.
 *
 * With Redis, events cross replicas by pub/sub on `events.channel`: a replica subscribes to it
 * only while it has subscribers of its own, and says so on `<channel>:wake`. A replica whose
 * PUBLISH reached nobody stays quiet (publishes nothing) until a wake, or for `QUIET_MS` at most
 * (a wake lost in a reconnect costs at most that), so a fleet with no subscriber anywhere sends
 * one message per replica per `QUIET_MS`. Local subscribers get their replica's events directly,
 * Redis or not; a replica skips its own messages coming back.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../state/redis.js';
import type { UsageRecord } from '../usage/store-types.js';
import { createBoundedQueue } from './queue.js';

export interface RequestEvent {
  /** The request's id (as in its usage record and logs). */
  id: string;
  /** When it ended, ISO 8601. */
  time: string;
  clientId: string;
  user: string | null;
  /** The model as called: an alias or `provider/model`. */
  alias: string;
  provider: string | null;
  model: string | null;
  status: 'ok' | 'error';
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costUsd: number;
  savedUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  cacheHit: boolean;
  attempts: number;
  stream: boolean;
}

export interface RequestEventFilter {
  clientId?: string;
  model?: string;
  provider?: string;
  status?: 'ok' | 'error';
}

export interface RequestEvents {
  /** Cheap when nobody listens anywhere: one boolean check (Redis: one per `QUIET_MS`). */
  publish(record: UsageRecord): void;
  /** The events that pass `filter`, from now on, until `return()`. */
  subscribe(filter: RequestEventFilter): AsyncIterableIterator<RequestEvent>;
  /** Subscribers on this replica. */
  readonly subscribers: number;
  /** With Redis: this replica's subscription to other replicas' events is confirmed. */
  readonly receiving: boolean;
  /** With Redis: this replica's last event reached nobody, and it publishes none for now. */
  readonly quiet: boolean;
  close(): Promise<void>;
}

/** How long a replica whose events reached nobody stays quiet without a wake. */
export const QUIET_MS = 5_000;

export const toRequestEvent = (r: UsageRecord): RequestEvent => ({
  id: r.requestId,
  time: r.time.toISOString(),
  clientId: r.clientId,
  user: r.user,
  alias: r.alias,
  provider: r.provider,
  model: r.model,
  status: r.status,
  errorCode: r.errorCode,
  promptTokens: r.promptTokens,
  completionTokens: r.completionTokens,
  cachedTokens: r.cachedTokens,
  costUsd: r.costUsd,
  savedUsd: r.savedUsd,
  latencyMs: r.latencyMs,
  ttftMs: r.ttftMs,
  cacheHit: r.cacheHit,
  attempts: r.attempts,
  stream: r.stream,
});

export const matches = (filter: RequestEventFilter, e: RequestEvent): boolean =>
  (filter.clientId === undefined || filter.clientId === e.clientId) &&
  (filter.model === undefined || filter.model === e.model || filter.model === e.alias) &&
  (filter.provider === undefined || filter.provider === e.provider) &&
  (filter.status === undefined || filter.status === e.status);

export function createRequestEvents(options: {
  /** Events kept per slow subscriber before the oldest are dropped. */
  queue: number;
  onDrop: () => void;
  redis?: RedisClient;
  channel: string;
}): RequestEvents {
  const { queue, onDrop, redis, channel } = options;
  const wakeChannel = `${channel}:wake`;
  const origin = randomUUID();
  const local = new Set<{ filter: RequestEventFilter; push(e: RequestEvent): void }>();
  const deliver = (event: RequestEvent) => {
    for (const s of local) if (matches(s.filter, event)) s.push(event);
  };

  const remote = redis && createRemote(redis);

  function createRemote(client: RedisClient) {
    const subscriber = client.duplicate();
    subscriber.on('error', () => {});
    let quietUntil = 0;
    let wakes = 0;
    let receiving = false;
    let wanted = false;
    const onEvent = (message: string) => {
      const parsed = JSON.parse(message) as { origin: string; event: RequestEvent };
      if (parsed.origin !== origin) deliver(parsed.event);
    };
    const onWake = () => {
      wakes++;
      quietUntil = 0;
    };
    // Subscribes (again) to what is wanted now; node-redis resubscribes by itself after a reconnect.
    const sync = async () => {
      if (!subscriber.isReady) return;
      if (wanted && !receiving) {
        receiving = true;
        await subscriber.subscribe(channel, onEvent);
        if (!wanted) return sync();
        await client.publish(wakeChannel, origin).catch(() => {});
      } else if (!wanted && receiving) {
        receiving = false;
        await subscriber.unsubscribe(channel, onEvent);
        if (wanted) return sync();
      }
    };
    let confirmed = false;
    subscriber.on('ready', () => {
      // Messages may have been missed: publish again until told otherwise.
      quietUntil = 0;
      subscriber
        .subscribe(wakeChannel, onWake)
        .then(() => sync())
        .then(() => (confirmed = true))
        .catch(() => {});
    });
    subscriber.on('end', () => (confirmed = false));
    subscriber.on('reconnecting', () => (confirmed = false));
    subscriber.connect().catch(() => {});
    return {
      get receiving() {
        return confirmed && receiving && subscriber.isReady;
      },
      want(listen: boolean) {
        wanted = listen;
        sync().catch(() => {});
      },
      /** False while quiet with nobody local: the caller builds nothing. */
      wouldSend: () => Date.now() >= quietUntil,
      get quiet() {
        return Date.now() < quietUntil;
      },
      send(event: RequestEvent, hasLocal: boolean) {
        const sentAt = wakes;
        client
          .publish(channel, JSON.stringify({ origin, event }))
          .then((receivers) => {
            const others = receivers - (hasLocal && receiving ? 1 : 0);
            if (others <= 0 && !hasLocal && wakes === sentAt) quietUntil = Date.now() + QUIET_MS;
          })
          .catch(() => {});
      },
      async close() {
        if (!subscriber.isOpen) return;
        if (subscriber.isReady) await subscriber.close().catch(() => subscriber.destroy());
        else subscriber.destroy();
      },
    };
  }

  return {
    publish(record) {
      const hasLocal = local.size > 0;
      if (!hasLocal && !remote?.wouldSend()) return;
      const event = toRequestEvent(record);
      if (hasLocal) deliver(event);
      remote?.send(event, hasLocal);
    },
    subscribe(filter) {
      const entry = createBoundedQueue<RequestEvent>({
        max: queue,
        onDrop,
        onClose: () => {
          local.delete(subscription);
          if (local.size === 0) remote?.want(false);
        },
      });
      const subscription = { filter, push: (e: RequestEvent) => entry.push(e) };
      local.add(subscription);
      if (local.size === 1) remote?.want(true);
      return entry;
    },
    get subscribers() {
      return local.size;
    },
    get receiving() {
      return remote?.receiving ?? false;
    },
    get quiet() {
      return remote?.quiet ?? false;
    },
    async close() {
      await remote?.close();
    },
  };
}
