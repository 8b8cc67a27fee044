/** A request's signal: aborted when the client goes away or when its deadline passes (until cleared). */
export interface Deadline {
  signal: AbortSignal;
  /** Aborted only when the deadline passed. */
  expired: AbortSignal;
  /** Aborts the request now (its consumer left). */
  abort(): void;
  /** Stops the deadline only: a stream past its first token runs on the client's signal alone. */
  stopTimer(): void;
  /** Stops the deadline and lets go of the client's signal: call it when the request is done. */
  clear(): void;
}

export function startDeadline(client: AbortSignal, ms: number): Deadline {
  const controller = new AbortController();
  const expiry = new AbortController();
  const onClientAbort = () => controller.abort(client.reason);
  if (client.aborted) onClientAbort();
  else client.addEventListener('abort', onClientAbort, { once: true });
  const timer = setTimeout(() => {
    const reason = new DOMException(`the request's deadline of ${ms} ms passed`, 'TimeoutError');
    expiry.abort(reason);
    controller.abort(reason);
  }, ms);
  return {
    signal: controller.signal,
    expired: expiry.signal,
    abort() {
      controller.abort(new DOMException('the client went away', 'AbortError'));
    },
    stopTimer() {
      clearTimeout(timer);
    },
    clear() {
      clearTimeout(timer);
      client.removeEventListener('abort', onClientAbort);
    },
  };
}
