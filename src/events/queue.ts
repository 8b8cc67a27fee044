/**
 * One subscriber's events: a bounded queue read as an async iterator. A subscriber that reads
 * slower than events come (its socket's buffer is full, so its transport stops pulling) loses
 * the oldest ones past `max`, counted by `onDrop`: it never holds the publisher, and never holds
 * more than `max` events in memory.
 */
export interface BoundedQueue<T> extends AsyncIterableIterator<T> {
  /** Adds an event, dropping the oldest when full; ignored once the reader has left. */
  push(value: T): void;
  /** Ends the iteration: the reader gets what is queued, then done. */
  end(): void;
  /** Events waiting now. */
  readonly size: number;
}

export function createBoundedQueue<T>(options: {
  max: number;
  onDrop: () => void;
  /** The reader left (`return()`), or the queue ended and was read out. */
  onClose: () => void;
}): BoundedQueue<T> {
  const { max, onDrop, onClose } = options;
  let items: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | undefined;
  let ended = false;
  let closed = false;

  const close = (): IteratorResult<T> => {
    if (!closed) {
      closed = true;
      items = [];
      onClose();
    }
    const wake = waiting;
    waiting = undefined;
    wake?.({ done: true, value: undefined });
    return { done: true, value: undefined };
  };

  return {
    push(value) {
      if (closed || ended) return;
      if (waiting) {
        const wake = waiting;
        waiting = undefined;
        wake({ done: false, value });
        return;
      }
      if (items.length >= max) {
        items.shift();
        onDrop();
      }
      items.push(value);
    },
    end() {
      ended = true;
      if (waiting) close();
    },
    get size() {
      return items.length;
    },
    next() {
      if (items.length > 0) return Promise.resolve({ done: false, value: items.shift()! });
      if (closed || ended) return Promise.resolve(close());
      return new Promise((resolve) => (waiting = resolve));
    },
    return() {
      return Promise.resolve(close());
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
