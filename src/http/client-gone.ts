/**
 * The client-gone watcher of every edge (REST, GraphQL over HTTP and SSE): a request's `Cancel`,
 * aborted when its client goes away before the answer is written. The gateway takes it as the
 * request's own signal (and may abort it itself at the deadline), so a request has one, not two.
 */
import { Cancel } from '../gateway/cancel.js';

/** A response as `cancelWhenGone` needs it (node:http's ServerResponse). */
interface Answer {
  readonly writableFinished: boolean;
  once(event: 'close', listener: () => void): unknown;
}

/** A request's Cancel, aborted when its client goes away before the answer is written. */
export function cancelWhenGone(res: Answer): Cancel {
  const cancel = new Cancel();
  res.once('close', () => {
    if (!res.writableFinished) cancel.abort();
  });
  return cancel;
}
