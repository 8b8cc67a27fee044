/**
 * The loop every translated REST stream runs, whatever its wire format (chat completions,
 * Responses, Messages): write each chunk's text as the route's event, waiting for the socket to
 * drain when its buffer is full; on the last chunk write the route's closing events; a stream
 * that ends without its last chunk, or breaks, ends with the route's error event, never in
 * silence; a client that leaves stops the upstream. The route says only how its events look.
 */
import { ErrorCodes, GatewayError } from '../gateway/errors.js';
import type { CompletionChunk } from '../gateway/types.js';
import type { SseStream } from '../http/sse.js';

export interface ChunkWriter {
  /** A chunk with text (`delta` not empty); false when the socket's buffer is full. */
  delta(chunk: CompletionChunk): boolean;
  /** The last chunk (`done`): the closing events. */
  done(chunk: CompletionChunk): void | Promise<void>;
  /** The stream broke after it began: the route's error event(s). */
  failed(error: unknown): void;
}

/** Stops the upstream under `iterator` (the gateway records what was streamed). */
export async function stopChunks(iterator: AsyncIterator<CompletionChunk>): Promise<void> {
  await iterator.return?.().catch(() => {});
}

/**
 * Relays `iterator` from its `first` result (already read: its chunk named the provider the
 * answer's headers carry) to `sse` through `writer`, and ends the stream.
 */
export async function relayChunks(
  sse: SseStream,
  iterator: AsyncIterator<CompletionChunk>,
  first: IteratorResult<CompletionChunk>,
  writer: ChunkWriter,
): Promise<void> {
  let next = first;
  try {
    for (;;) {
      const chunk: CompletionChunk = next.value;
      if (chunk.delta !== '' && !writer.delta(chunk)) await sse.drained();
      if (chunk.done) {
        await writer.done(chunk);
        sse.end();
        return;
      }
      if (sse.closed) break;
      next = await iterator.next();
      if (sse.closed) break;
      if (next.done) {
        throw new GatewayError(ErrorCodes.UPSTREAM_ERROR, 'the stream ended without finishing');
      }
    }
  } catch (error) {
    writer.failed(error);
  }
  // Reached when the client left (return() stops the upstream), or after an error.
  await stopChunks(iterator);
  sse.end();
}
