import type { Cancel } from './cancel.js';

/**
 * A request's one signal: aborted when the client goes away or when its deadline passes (until
 * stopped). One Cancel and one timer per request (see cancel.ts: AbortSignals are not cheap).
 */
export interface Deadline {
  signal: Cancel;
  /** True once the deadline passed (and aborted `signal`). */
  readonly expired: boolean;
  /** Milliseconds left before the deadline (Infinity once stopped). */
  remainingMs(): number;
  /** Aborts the request now (its consumer left). */
  abort(): void;
  /** Stops the deadline only: a stream past its first token runs on the client's signal alone. */
  stopTimer(): void;
  /** Stops the deadline and lets go of the client's signal: call it when the request is done. */
  clear(): void;
}

/**
 * `client` is the request's own Cancel (aborted when the client leaves, by every edge), which
 * the deadline aborts too: one signal, not two.
 */
export function startDeadline(client: Cancel, ms: number): Deadline {
  return deadline(client, ms);
}

function deadline(cancel: Cancel, ms: number): Deadline {
  const endsAt = performance.now() + ms;
  let expired = false;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    expired = true;
    cancel.abort(new DOMException(`the request's deadline of ${ms} ms passed`, 'TimeoutError'));
  }, ms);
  const stopTimer = () => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
  };
  return {
    signal: cancel,
    get expired() {
      return expired;
    },
    abort() {
      cancel.abort(new DOMException('the client went away', 'AbortError'));
    },
    remainingMs: () => (timer === undefined ? Infinity : endsAt - performance.now()),
    stopTimer,
    clear: stopTimer,
  };
}
