/**
 * `POST /v1/responses` with `stream: true`: the gateway's CompletionChunk stream → the Responses
 * API's semantic events, each with its `sequence_number`: `response.created`,
 * `response.in_progress`, then per output item `response.output_item.added`, its content
 * (`response.content_part.added`, `response.output_text.delta`…`.done`,
 * `response.content_part.done`, or `response.function_call_arguments.delta`/`.done`) and
 * `response.output_item.done`, and last `response.completed` (or `response.incomplete`) with the
 * usage. The first chunk is in hand before the headers go out, so a failure before it is an
 * ordinary error status; a failure after it ends the stream with `response.failed` and an `error`
 * event, never a silent end.
 *
 * @see https://platform.openai.com/docs/api-reference/responses-streaming
 */
import type { ServerResponse } from 'node:http';
import type { ClientSignal } from '../../gateway/gateway.js';
import type { NativeStream } from '../../gateway/native.js';
import type { Caller, CompletionChunk } from '../../gateway/types.js';
import { openSse } from '../../http/sse.js';
import type { Services } from '../../services.js';
import { conduitHeaders } from '../convert.js';
import { toOpenAIError } from '../errors.js';
import { relayChunks, stopChunks } from '../chunk-relay.js';
import { relaySse } from '../native-sse.js';
import { keep, toConversation, type Conversation } from './create.js';
import { asSent, nativeResponsesRequest } from './native.js';
import type { ResponsesCall } from './request.js';
import {
  finish,
  functionCallItem,
  messageId,
  messageItem,
  outputText,
  responseId,
  responseObject,
  type Json,
} from './response.js';

export async function streamResponse(
  services: Services,
  caller: Caller,
  call: ResponsesCall,
  body: Json,
  res: ServerResponse,
  signal: ClientSignal,
): Promise<void> {
  const createdAt = Date.now();
  const conversation = await toConversation(services, caller, call);
  const native = nativeResponsesRequest(body, call, conversation.previous);
  let chunks: AsyncIterable<CompletionChunk>;
  if (native) {
    const stream = await services.gateway.streamNative(
      conversation.request,
      caller,
      signal,
      native,
    );
    if (stream.kind === 'native')
      return relayNative(services, caller, call, conversation, stream, res);
    chunks = stream.chunks;
  } else {
    chunks = await services.gateway.stream(conversation.request, caller, signal);
  }
  const iterator = chunks[Symbol.asyncIterator]();
  const next = await iterator.next();
  if (next.done) throw new Error('the gateway gave an empty stream');
  const first = next.value;
  const requestId = first.id;
  const base = { id: responseId(requestId), createdAt, model: first.model, call };

  const sse = openSse(res, {
    headers: conduitHeaders(first.provider, first.cached, requestId, first.semantic?.similarity),
    onClose: () => void stopChunks(iterator),
  });
  let sequence = 0;
  const emit = (type: string, fields: Json): boolean =>
    sse.send({
      event: type,
      data: JSON.stringify({ type, sequence_number: sequence++, ...fields }),
    });

  const output: Json[] = [];
  emit('response.created', { response: responseObject(base, 'in_progress', []) });
  emit('response.in_progress', { response: responseObject(base, 'in_progress', []) });

  const itemId = messageId(requestId);
  let text = '';
  let messageOpen = false;
  const openMessage = () => {
    messageOpen = true;
    emit('response.output_item.added', {
      output_index: 0,
      item: messageItem(requestId, 'in_progress', []),
    });
    emit('response.content_part.added', {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: outputText(''),
    });
  };
  const closeMessage = () => {
    const part = outputText(text);
    const item = messageItem(requestId, 'completed', [part]);
    emit('response.output_text.done', {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      text,
      logprobs: [],
    });
    emit('response.content_part.done', {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part,
    });
    emit('response.output_item.done', { output_index: 0, item });
    output.push(item);
  };

  await relayChunks(sse, iterator, next, {
    delta: (chunk) => {
      if (!messageOpen) openMessage();
      text += chunk.delta;
      return emit('response.output_text.delta', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta: chunk.delta,
        logprobs: [],
      });
    },
    done: async (chunk) => {
      const calls = chunk.toolCalls ?? [];
      // As the whole answer: the text as one message unless the model only called tools.
      if (!messageOpen && calls.length === 0) openMessage();
      if (messageOpen) closeMessage();
      calls.forEach((toolCall, i) => {
        const index = output.length;
        const added = functionCallItem(requestId, i, toolCall, 'in_progress', '');
        emit('response.output_item.added', { output_index: index, item: added });
        const id = added.id as string;
        emit('response.function_call_arguments.delta', {
          item_id: id,
          output_index: index,
          delta: toolCall.arguments,
        });
        emit('response.function_call_arguments.done', {
          item_id: id,
          name: toolCall.name,
          output_index: index,
          arguments: toolCall.arguments,
        });
        const item = functionCallItem(requestId, i, toolCall, 'completed');
        emit('response.output_item.done', { output_index: index, item });
        output.push(item);
      });
      const response = responseObject({ ...base, model: chunk.model }, 'completed', output);
      finish(response, chunk.finishReason ?? 'STOP', chunk.usage ?? emptyUsage);
      await keep(services, caller, call, conversation, response, createdAt);
      const type = response.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
      emit(type, { response });
    },
    failed: (error) => fail(emit, base, output, error),
  });
}

const emptyUsage = {
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  cachedPromptTokens: 0,
  estimated: true,
};

/** `response.failed` with what was said so far, then the `error` event the SDKs raise. */
function fail(
  emit: (type: string, fields: Json) => boolean,
  base: Parameters<typeof responseObject>[0],
  output: Json[],
  error: unknown,
): void {
  const { error: body } = toOpenAIError(error).body;
  const response = responseObject(base, 'failed', output);
  response.error = { code: 'server_error', message: body.message };
  emit('response.failed', { response });
  // Both shapes OpenAI sends: the flat fields, and `error` (which the openai SDK throws on).
  emit('error', { code: body.code, message: body.message, param: body.param, error: body });
}

/** The events that carry the Response object. */
const withResponse = new Set([
  'response.created',
  'response.queued',
  'response.in_progress',
  'response.completed',
  'response.incomplete',
  'response.failed',
]);

/**
 * An OpenAI target's own events, as they came (but for the `previous_response_id` the client
 * sent); the finished response is kept (when `store`) before its last event goes out. A failure
 * after the first event ends the stream as the translated one does: `response.failed` with the
 * response as last seen, then `error`.
 */
async function relayNative(
  services: Services,
  caller: Caller,
  call: ResponsesCall,
  conversation: Conversation,
  stream: Extract<NativeStream, { kind: 'native' }>,
  res: ServerResponse,
): Promise<void> {
  const createdAt = Date.now();
  let relayed = 0;
  let last: Json | undefined;
  return relaySse(res, stream.events, {
    headers: conduitHeaders(stream.provider, false, stream.id),
    async onEvent(message) {
      relayed++;
      if (message.event === undefined || !withResponse.has(message.event)) return undefined;
      const data = JSON.parse(message.data) as { response?: Json };
      if (!data.response) return undefined;
      last = asSent(data.response, call);
      if (message.event === 'response.completed' || message.event === 'response.incomplete')
        await keep(services, caller, call, conversation, data.response, createdAt);
      return JSON.stringify(data);
    },
    errorEvents(error) {
      const { error: body } = toOpenAIError(error).body;
      const events = [];
      if (last) {
        const error = { code: 'server_error', message: body.message };
        const response: Json = { ...last, status: 'failed', error };
        const failed = { type: 'response.failed', sequence_number: relayed++, response };
        events.push({ event: 'response.failed', data: JSON.stringify(failed) });
      }
      const data = {
        type: 'error',
        sequence_number: relayed,
        code: body.code,
        message: body.message,
        param: body.param,
        error: body,
      };
      events.push({ event: 'error', data: JSON.stringify(data) });
      return events;
    },
  });
}
