/**
 * A request's one signal: aborted when the client goes away or when its deadline passes (until
 * stopped). One AbortController and one timer per request: the transport hands this same
 * signal to undici rather than making its own (AbortSignals are not cheap in Node).
 */
export interface Deadline {
  signal: AbortSignal;
  /** True once the deadline passed (and aborted `signal`). */
  readonly expired: boolean;
  /** Aborts the request now (its consumer left). */
  abort(): void;
  /** Stops the deadline only: a stream past its first token runs on the client's signal alone. */
  stopTimer(): void;
  /** Stops the deadline and lets go of the client's signal: call it when the request is done. */
  clear(): void;
}

/**
 * `client` is the client's signal to follow, or the request's own controller (aborted when the
 * client leaves), which the deadline then aborts too: one controller instead of two.
 */
export function startDeadline(client: AbortSignal | AbortController, ms: number): Deadline {
  if (client instanceof AbortController) return deadline(client, undefined, ms);
  const controller = new AbortController();
  const onClientAbort = () => controller.abort(client.reason);
  if (client.aborted) onClientAbort();
  else client.addEventListener('abort', onClientAbort, { once: true });
  return deadline(controller, () => client.removeEventListener('abort', onClientAbort), ms);
}

function deadline(
  controller: AbortController,
  release: (() => void) | undefined,
  ms: number,
): Deadline {
  let expired = false;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException(`the request's deadline of ${ms} ms passed`, 'TimeoutError'));
  }, ms);
  const stopTimer = () => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
  };
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    abort() {
      controller.abort(new DOMException('the client went away', 'AbortError'));
    },
    stopTimer,
    clear() {
      stopTimer();
      release?.();
    },
  };
}
