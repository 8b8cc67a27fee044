/**
 * The client-gone watcher of every edge (REST, GraphQL over HTTP and SSE): a request's `Cancel`,
 * aborted when its client goes away before the answer is written. The gateway takes it as the
 * request's own signal (and may abort it itself at the deadline), so a request has one, not two.
 */
import { Cancel } from '../gateway/cancel.js';
import { spanOf } from '../telemetry/http.js';

/** A response as `cancelWhenGone` needs it (node:http's ServerResponse). */
interface Answer {
  readonly writableFinished: boolean;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * A request's Cancel, aborted when its client goes away before the answer is written; it carries
 * the request's trace span when tracing is on (`telemetry/http.ts`).
 */
export function cancelWhenGone(res: Answer): Cancel {
  const cancel = new Cancel();
  cancel.span = spanOf(res);
  res.once('close', () => {
    if (!res.writableFinished) cancel.abort();
  });
  return cancel;
}
