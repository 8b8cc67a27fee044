/**
 * The batched writer behind `UsageStore.record`: records wait in a bounded FIFO queue and are
 * written by one loop, a batch at a time, off the request's path. A failed batch goes back to
 * the front of the queue and is retried with exponential backoff; when the queue overflows the
 * oldest records are dropped and counted.
 */

import { setTimeout as sleep } from 'node:timers/promises';

/** Tries of one batch before `flush` gives up: more than the Postgres pool has connections, each of which may have died while idle. */
const FLUSH_TRIES = 5;

interface Entry<T> {
  seq: number;
  item: T;
}

/** A FIFO that drops from the front in O(1) (amortised), unlike `Array.prototype.shift`. */
class Fifo<T> {
  /** Before `#head`: taken (cleared); from it on: queued. */
  #items: (Entry<T> | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }
  peek(): Entry<T> | undefined {
    return this.#items[this.#head];
  }
  push(entry: Entry<T>): void {
    this.#items.push(entry);
  }
  take(count: number): Entry<T>[] {
    const taken = this.#items.slice(this.#head, this.#head + count) as Entry<T>[];
    // The slots taken are cleared: kept until the next compaction (a thousand pushes on), the
    // entries outlived the young generation and were promoted, with all they point at.
    this.#items.fill(undefined, this.#head, this.#head + taken.length);
    this.#head += taken.length;
    this.#compact();
    return taken;
  }
  unshift(entries: readonly Entry<T>[]): void {
    this.#items = [...entries, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

export interface WriterOptions<T> {
  /** Writes one batch. Resolves to how many rows the database refused (dropped, not retried). */
  write: (batch: T[]) => Promise<number>;
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
  retryInitialMs: number;
  retryMaxMs: number;
  onDrop: (dropped: number) => void;
  onError: (error: unknown) => void;
}

export interface Writer<T> {
  push(item: T): void;
  /** Counts items that never reached the queue as dropped. */
  discard(count: number): void;
  flush(): Promise<void>;
  /** Stops the timers; what is still queued is dropped (counted, onDrop). */
  stop(): void;
  stats(): { queued: number; dropped: number; written: number };
}

export function createWriter<T>(options: WriterOptions<T>): Writer<T> {
  const queue = new Fifo<T>();
  let inflight: Entry<T>[] = [];
  let writing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let backingOff = false;
  let failures = 0;
  let seq = 0;
  let dropped = 0;
  let written = 0;
  let stopped = false;

  const notifyDrop = (count: number): void => {
    dropped += count;
    try {
      options.onDrop(count);
    } catch {
      // A listener's fault must not reach the request that recorded.
    }
  };

  const drop = (count: number): void => {
    if (count <= 0) return;
    const taken = queue.take(count).length;
    if (taken > 0) notifyDrop(taken);
  };

  const report = (error: unknown): void => {
    try {
      options.onError(error);
    } catch {
      // as above
    }
  };

  const trim = (): void => drop(queue.length + inflight.length - options.maxQueue);

  const schedule = (delayMs: number): void => {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = null;
      backingOff = false;
      void writeOnce().catch(() => {
        // counted and reported in writeOnce; the retry is scheduled there.
      });
    }, delayMs);
    timer.unref();
  };

  /** The next step after a write (or a push): a batch now, a timer, or nothing. */
  const next = (): void => {
    if (stopped || writing || backingOff || queue.length === 0) return;
    if (queue.length >= options.batchSize) {
      if (timer) clearTimeout(timer);
      timer = null;
      void writeOnce().catch(() => {});
    } else {
      schedule(options.flushIntervalMs);
    }
  };

  /** Writes one batch; rejects (with the records queued again) when the database fails. */
  function writeOnce(): Promise<void> {
    if (writing) return writing;
    if (queue.length === 0) return Promise.resolve();
    inflight = queue.take(options.batchSize);
    const batch = inflight.map((entry) => entry.item);
    // After the caller's synchronous code, not inside it: the push that fills a batch returns
    // before the batch is written, even when the write is synchronous (better-sqlite3).
    const wrote = Promise.resolve(batch).then(options.write);
    writing = wrote.then(
      (refused) => {
        written += inflight.length - refused;
        if (refused > 0) notifyDrop(refused);
        inflight = [];
        failures = 0;
        writing = null;
        if (timer) clearTimeout(timer);
        timer = null;
        backingOff = false;
        next();
      },
      (error: unknown) => {
        queue.unshift(inflight);
        inflight = [];
        writing = null;
        trim();
        failures += 1;
        report(error);
        const ceiling = Math.min(options.retryMaxMs, options.retryInitialMs * 2 ** (failures - 1));
        if (timer) clearTimeout(timer);
        timer = null;
        backingOff = true;
        schedule(ceiling / 2 + Math.random() * (ceiling / 2));
        throw error;
      },
    );
    return writing;
  }

  return {
    push(item) {
      if (stopped) {
        report(new Error('usage store is closed: record dropped'));
        notifyDrop(1);
        return;
      }
      queue.push({ seq: ++seq, item });
      trim();
      next();
    },

    async flush() {
      const target = seq;
      const pendingUpTo = (): boolean => {
        const oldest = inflight[0] ?? queue.peek();
        return oldest !== undefined && oldest.seq <= target;
      };
      let failed = 0;
      while (pendingUpTo()) {
        if (writing) {
          await writing.catch(() => {});
          continue;
        }
        try {
          await writeOnce();
          failed = 0;
        } catch (error) {
          // One failure may be a connection that died while idle: try again before giving up.
          if (++failed >= FLUSH_TRIES) throw error;
          await sleep(Math.min(options.retryMaxMs, options.retryInitialMs * 2 ** (failed - 1)));
        }
      }
    },

    discard(count) {
      if (count > 0) notifyDrop(count);
    },

    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      drop(queue.length);
    },

    stats: () => ({ queued: queue.length + inflight.length, dropped, written }),
  };
}
