/**
 * Streams an answer as Anthropic's named events. An Anthropic target's own events go out as
 * they came (`native-sse.ts`); any other answer is written here as `message_start`, a `ping`,
 * the text as one `text` block of `text_delta`s, each tool call as a `tool_use` block with its
 * arguments in an `input_json_delta`, then `message_delta` (stop reason and usage) and
 * `message_stop`. The first chunk is in hand before the headers go out, so a failure before it
 * is an ordinary error status; a failure after it (a stream cut upstream) is an `error` event,
 * never a silent end.
 *
 * @see https://docs.claude.com/en/api/messages-streaming
 */
import type { ServerResponse } from 'node:http';
import type { ClientSignal } from '../../gateway/gateway.js';
import type { Caller, CompletionChunk } from '../../gateway/types.js';
import { openSse, type SseStream } from '../../http/sse.js';
import type { Services } from '../../services.js';
import type { NativeRequest } from '../../providers/types.js';
import { conduitHeaders } from '../convert.js';
import { relayChunks, stopChunks } from '../chunk-relay.js';
import { relaySse } from '../native-sse.js';
import { streamErrorData } from './errors.js';
import type { MessagesCall } from './request.js';
import { mapStopReason, messageId, toAnthropicUsage, toolUseBlock } from './response.js';

const event = (name: string, data: unknown) => ({ event: name, data: JSON.stringify(data) });

export async function streamMessages(
  services: Services,
  caller: Caller,
  call: MessagesCall,
  native: NativeRequest,
  res: ServerResponse,
  signal: ClientSignal,
): Promise<void> {
  const stream = await services.gateway.streamNative(call.request, caller, signal, native);
  if (stream.kind === 'native') {
    // An Anthropic target: its own events, as they came.
    return relaySse(res, stream.events, {
      headers: { ...conduitHeaders(stream.provider, false, stream.id), 'request-id': stream.id },
      errorEvents: (error) => [{ event: 'error', data: streamErrorData(error) }],
    });
  }
  const iterator = stream.chunks[Symbol.asyncIterator]();
  const next = await iterator.next();
  if (next.done) throw new Error('the gateway gave an empty stream');
  const first = next.value;
  const sse = openSse(res, {
    headers: {
      ...conduitHeaders(first.provider, first.cached, first.id, first.semantic?.similarity),
      'request-id': first.id,
    },
    onClose: () => void stopChunks(iterator),
  });
  sse.send(
    event('message_start', {
      type: 'message_start',
      message: {
        id: messageId(first.id),
        type: 'message',
        role: 'assistant',
        model: first.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // The counts come with the answer's end, in message_delta (cumulative, as Anthropic's).
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    }),
  );
  sse.send(event('ping', { type: 'ping' }));
  /** The index of the next block, and whether a text block is open. */
  let index = 0;
  let textOpen = false;
  await relayChunks(sse, iterator, next, {
    delta: (chunk) => {
      if (!textOpen) {
        sse.send(
          event('content_block_start', {
            type: 'content_block_start',
            index,
            content_block: { type: 'text', text: '' },
          }),
        );
        textOpen = true;
      }
      return sse.send(
        event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: chunk.delta },
        }),
      );
    },
    done: (chunk) => {
      if (textOpen)
        sse.send(event('content_block_stop', { type: 'content_block_stop', index: index++ }));
      finish(sse, chunk, index);
    },
    failed: (error) => sse.send({ event: 'error', data: streamErrorData(error) }),
  });
}

function finish(sse: SseStream, chunk: CompletionChunk, from: number): void {
  let index = from;
  for (const call of chunk.toolCalls ?? []) {
    const block = toolUseBlock(call);
    sse.send(
      event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { ...block, input: {} },
      }),
    );
    sse.send(
      event('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      }),
    );
    sse.send(event('content_block_stop', { type: 'content_block_stop', index: index++ }));
  }
  const usage = chunk.usage ? toAnthropicUsage(chunk.usage) : undefined;
  sse.send(
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: mapStopReason(chunk.finishReason ?? 'STOP'), stop_sequence: null },
      usage: usage ?? { output_tokens: 0 },
    }),
  );
  sse.send(event('message_stop', { type: 'message_stop' }));
}
