/** A request's signal: aborted when the client goes away or when its deadline passes (until cleared). */
export interface Deadline {
  signal: AbortSignal;
  /** Aborted only when the deadline passed. */
  expired: AbortSignal;
  /**
   * Stops the deadline and lets go of the client's signal. Call it when the request is done, or
   * when a stream has its first token (from then on, the stream's consumer stops it).
   */
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
    clear() {
      clearTimeout(timer);
      client.removeEventListener('abort', onClientAbort);
    },
  };
}
