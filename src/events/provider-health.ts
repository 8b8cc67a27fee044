/**
 * `providerHealth`: each provider's circuit and key pool, pushed when they change. While someone
 * listens, the statuses are read again every `intervalMs` and at once when a key pool changes
 * here or in another replica (Cooldowns' change feed); a subscriber gets the providers whose
 * status differs from the last one sent. Nobody listening: no timer, no reads.
 */
import { createBoundedQueue } from './queue.js';

/** A provider as `providers` shows it: its keys (counts only) and its circuit. */
export interface ProviderStatus {
  name: string;
  type: string;
  models: string[];
  keys: number;
  availableKeys: number;
  healthy: boolean;
  circuit: 'closed' | 'open' | 'half-open';
}

export interface ProviderHealth {
  /** Where statuses come from: the services in force (set again on each reload). */
  use(source: () => Promise<ProviderStatus[]>): void;
  /** Every provider's status now, then each change, until `return()`. */
  subscribe(provider?: string): AsyncIterableIterator<ProviderStatus>;
  readonly subscribers: number;
  close(): void;
}

const sameStatus = (a: ProviderStatus, b: ProviderStatus): boolean =>
  a.circuit === b.circuit &&
  a.healthy === b.healthy &&
  a.keys === b.keys &&
  a.availableKeys === b.availableKeys;

export function createProviderHealth(options: {
  intervalMs: number;
  /** Subscribes to key pool changes; returns the unsubscriber. */
  onPoolChange: (listener: () => void) => () => void;
  queue: number;
  onDrop: () => void;
  onError: (error: unknown) => void;
}): ProviderHealth {
  const { intervalMs, onPoolChange, queue, onDrop, onError } = options;
  let source: (() => Promise<ProviderStatus[]>) | undefined;
  const subscribers = new Set<{ provider?: string; push(s: ProviderStatus): void }>();
  let last = new Map<string, ProviderStatus>();
  let timer: NodeJS.Timeout | undefined;
  let stopWatching: (() => void) | undefined;
  let reading = false;
  let again = false;

  async function read(): Promise<void> {
    if (!source) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      const now = await source();
      const next = new Map(now.map((s) => [s.name, s]));
      for (const status of now) {
        const before = last.get(status.name);
        if (before && sameStatus(before, status)) continue;
        for (const s of subscribers) {
          if (s.provider === undefined || s.provider === status.name) s.push(status);
        }
      }
      last = next;
    } catch (error) {
      onError(error);
    } finally {
      reading = false;
      if (again) {
        again = false;
        void read();
      }
    }
  }

  function start() {
    timer = setInterval(() => void read(), intervalMs);
    timer.unref();
    stopWatching = onPoolChange(() => void read());
  }

  function stop() {
    clearInterval(timer);
    timer = undefined;
    stopWatching?.();
    stopWatching = undefined;
    last = new Map();
  }

  return {
    use(next) {
      source = next;
    },
    subscribe(provider) {
      const entry = createBoundedQueue<ProviderStatus>({
        max: queue,
        onDrop,
        onClose: () => {
          subscribers.delete(subscriber);
          if (subscribers.size === 0) stop();
        },
      });
      const subscriber = { provider, push: (s: ProviderStatus) => entry.push(s) };
      subscribers.add(subscriber);
      // The newcomer starts from every provider's status now.
      const first = source?.().then(
        (now) => {
          for (const s of now) if (provider === undefined || provider === s.name) entry.push(s);
          if (subscribers.size === 1) last = new Map(now.map((s) => [s.name, s]));
        },
        (error: unknown) => onError(error),
      );
      void first?.then(() => {
        if (subscribers.size > 0 && timer === undefined) start();
      });
      return entry;
    },
    get subscribers() {
      return subscribers.size;
    },
    close() {
      subscribers.clear();
      stop();
    },
  };
}
