/**
 * A pass-through stream onto the client's connection, for the REST edges that speak a
 * provider's own API (`/v1/messages`, `/v1/responses`): the upstream's events as they came,
 * under our headers. The first event is in hand before the headers go out (the gateway read it
 * while choosing the target), so a failure before it is an ordinary error status; a failure
 * after it ends the stream with the route's own error event, never a silent end.
 */
import type { ServerResponse } from 'node:http';
import type { EventSourceMessage } from 'eventsource-parser';
import { ErrorCodes, GatewayError } from '../gateway/errors.js';
import { openSse, type SseEvent } from '../http/sse.js';

export interface NativeSseOptions {
  headers: Record<string, string>;
  /**
   * Sees each event before it goes out (a stored response is kept from its last event); what
   * it returns is sent as the event's data instead.
   */
  onEvent?(message: EventSourceMessage): Promise<string | undefined> | string | undefined;
  /** The route's own error event(s) for a failure after the first event. */
  errorEvents(error: unknown): SseEvent[];
}

export async function relaySse(
  res: ServerResponse,
  events: AsyncIterable<EventSourceMessage>,
  options: NativeSseOptions,
): Promise<void> {
  const iterator = events[Symbol.asyncIterator]();
  let next = await iterator.next();
  if (next.done) throw new GatewayError(ErrorCodes.UPSTREAM_ERROR, 'the upstream sent no event');
  const sse = openSse(res, { headers: options.headers, onClose: () => void stop(iterator) });
  try {
    while (!next.done) {
      const message = next.value;
      const data = await options.onEvent?.(message);
      const event: SseEvent = { data: data ?? message.data };
      if (message.event !== undefined) event.event = message.event;
      if (message.id !== undefined) event.id = message.id;
      if (!sse.send(event)) await sse.drained();
      if (sse.closed) break;
      next = await iterator.next();
      if (sse.closed) break;
    }
    if (!sse.closed) {
      sse.end();
      return;
    }
  } catch (error) {
    for (const event of options.errorEvents(error)) sse.send(event);
  }
  // Reached when the client left (return() stops the upstream), or after an error.
  await stop(iterator);
  sse.end();
}

async function stop(iterator: AsyncIterator<EventSourceMessage>): Promise<void> {
  await iterator.return?.().catch(() => {});
}
