/**
 * `POST /v1/chat/completions`: a Completion or a CompletionChunk stream → OpenAI's
 * `chat.completion` or `chat.completion.chunk` events, whichever provider answered.
 *
 * @see https://platform.openai.com/docs/api-reference/chat/object
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 */
import type { ServerResponse } from 'node:http';
import type {
  Caller,
  Completion,
  CompletionChunk,
  FinishReason,
  ToolCall,
  Usage,
} from '../gateway/types.js';
import type { ClientSignal } from '../gateway/gateway.js';
import type { Services } from '../services.js';
import { conduitHeaders, type ChatCall, type Reply } from './convert.js';
import { toOpenAIError } from './errors.js';
import { openSse } from '../http/sse.js';
import { relayChunks, stopChunks } from './chunk-relay.js';

/**
 * Maps the gateway's finish reason to OpenAI's.
 * @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
 */
export function mapFinishReason(reason: FinishReason): string {
  switch (reason) {
    case 'STOP':
      return 'stop';
    case 'LENGTH':
      return 'length';
    case 'TOOL_CALLS':
      return 'tool_calls';
    case 'CONTENT_FILTER':
      return 'content_filter';
    default:
      return 'stop';
  }
}

function toUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

const toToolCalls = (calls: readonly ToolCall[]) =>
  calls.map((call) => ({
    id: call.id,
    type: 'function' as const,
    function: { name: call.name, arguments: call.arguments },
  }));

const now = () => Math.floor(Date.now() / 1000);

/** A whole Completion → a `chat.completion` body. */
export function toChatCompletion(completion: Completion, created = now()) {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: completion.content,
    refusal: null,
  };
  if (completion.toolCalls.length > 0) message.tool_calls = toToolCalls(completion.toolCalls);
  message.annotations = [];
  return {
    id: `chatcmpl-${completion.id}`,
    object: 'chat.completion',
    created,
    model: completion.model,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: mapFinishReason(completion.finishReason),
      },
    ],
    usage: toUsage(completion.usage),
    service_tier: 'default',
  };
}

export async function completeChat(
  services: Services,
  caller: Caller,
  call: ChatCall,
  signal: ClientSignal,
): Promise<Reply> {
  const completion = await services.gateway.complete(call.request, caller, signal);
  return {
    status: 200,
    headers: conduitHeaders(
      completion.provider,
      completion.cached,
      completion.id,
      completion.semantic?.similarity,
    ),
    body: toChatCompletion(completion),
  };
}

/**
 * Streams the answer. The first chunk is in hand before the headers go out, so a failure
 * before it is an ordinary error status; a failure after it is a last `data: {"error"}` event.
 */
export async function streamChat(
  services: Services,
  caller: Caller,
  call: ChatCall,
  res: ServerResponse,
  signal: ClientSignal,
): Promise<void> {
  const chunks = await services.gateway.stream(call.request, caller, signal);
  const iterator = chunks[Symbol.asyncIterator]();
  const next = await iterator.next();
  if (next.done) throw new Error('the gateway gave an empty stream');
  const first = next.value;
  const created = now();
  const head = `{"id":${JSON.stringify(`chatcmpl-${first.id}`)},"object":"chat.completion.chunk","created":${created},"model":`;
  const tail = call.includeUsage
    ? ',"service_tier":"default","usage":null,"choices":['
    : ',"service_tier":"default","choices":[';
  let model = JSON.stringify(first.model);
  const frame = (choice: string) => `${head}${model}${tail}${choice}]}`;

  const sse = openSse(res, {
    headers: conduitHeaders(first.provider, first.cached, first.id, first.semantic?.similarity),
    onClose: () => void stopChunks(iterator),
  });
  sse.send(
    frame(
      '{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}',
    ),
  );
  const send = (data: string) => sse.send(data);
  await relayChunks(sse, iterator, next, {
    delta: (chunk) =>
      send(
        frame(
          `{"index":0,"delta":{"content":${JSON.stringify(chunk.delta)}},"logprobs":null,"finish_reason":null}`,
        ),
      ),
    done: (chunk) => {
      model = JSON.stringify(chunk.model);
      finishStream(send, frame, chunk, call.includeUsage, `${head}${model}`);
    },
    failed: (error) => send(JSON.stringify(toOpenAIError(error).body)),
  });
}

function finishStream(
  send: (data: string) => boolean,
  frame: (choice: string) => string,
  chunk: CompletionChunk,
  includeUsage: boolean,
  /** The chunk's JSON up to and including its model. */
  head: string,
): void {
  if (chunk.toolCalls && chunk.toolCalls.length > 0) {
    const deltas = toToolCalls(chunk.toolCalls).map((call, index) => ({ index, ...call }));
    send(
      frame(
        `{"index":0,"delta":{"tool_calls":${JSON.stringify(deltas)}},"logprobs":null,"finish_reason":null}`,
      ),
    );
  }
  const reason = mapFinishReason(chunk.finishReason ?? 'STOP');
  send(frame(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"${reason}"}`));
  if (includeUsage && chunk.usage) {
    send(
      `${head},"service_tier":"default","choices":[],"usage":${JSON.stringify(toUsage(chunk.usage))}}`,
    );
  }
  send('[DONE]');
}
