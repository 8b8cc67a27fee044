/**
 * OpenAI's Responses API as an upstream, for the pass-through of a client's own
 * `POST /v1/responses` body: what its Response object and its stream events say for accounting
 * (the answer's text and function calls, its status and usage). Nothing here builds a request:
 * the client's body goes as sent (`native.ts`).
 *
 * @see https://platform.openai.com/docs/api-reference/responses
 * @see https://platform.openai.com/docs/api-reference/responses-streaming
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { UpstreamError } from '../gateway/errors.js';
import type { ChatResponse, FinishReason, StreamEvent, ToolCall, Usage } from '../gateway/types.js';
import { estimateUsage } from '../usage/tokens.js';
import { completionText } from './anthropic-response.js';
import { inBandOpenAIError } from './openai-errors.js';
import { isRecord } from './openai-wire.js';
import type { NativeWire, StreamContext } from './types.js';

const label = 'OpenAI';

interface ResponseUsage {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
}

/** A Response object → the gateway's ChatResponse. */
export function parseResponsesResponse(json: unknown, context: StreamContext): ChatResponse {
  if (!isRecord(json) || !Array.isArray(json.output)) {
    throw new UpstreamError({
      kind: 'server',
      message: `${label} answered a body that is not a response`,
      body: JSON.stringify(json),
    });
  }
  if (json.status === 'failed') throw inBandOpenAIError(json, label, JSON.stringify(json));
  let text = '';
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  for (const item of json.output) {
    if (!isRecord(item)) continue;
    if (item.type === 'message' && Array.isArray(item.content)) {
      for (const part of item.content) {
        if (isRecord(part) && part.type === 'output_text' && typeof part.text === 'string') {
          text += part.text;
          hasText = true;
        }
      }
    } else if (item.type === 'function_call') {
      toolCalls.push({
        id: String(item.call_id ?? ''),
        name: String(item.name ?? ''),
        arguments: typeof item.arguments === 'string' ? item.arguments : '{}',
      });
    }
  }
  const { request } = context;
  return {
    model: typeof json.model === 'string' ? json.model : context.model,
    content: hasText || toolCalls.length === 0 ? text : null,
    toolCalls,
    finishReason: finishReasonOf(json, toolCalls),
    usage: isRecord(json.usage)
      ? usageOf(json.usage as ResponseUsage)
      : estimateUsage(request.messages, completionText(text, toolCalls), request.tools),
  };
}

function finishReasonOf(response: Record<string, unknown>, toolCalls: ToolCall[]): FinishReason {
  if (response.status === 'incomplete') {
    const details = isRecord(response.incomplete_details) ? response.incomplete_details : {};
    return details.reason === 'content_filter' ? 'CONTENT_FILTER' : 'LENGTH';
  }
  return toolCalls.length > 0 ? 'TOOL_CALLS' : 'STOP';
}

/** `input_tokens` includes the cached ones, as our promptTokens does. */
function usageOf(usage: ResponseUsage): Usage {
  const promptTokens = usage.input_tokens ?? 0;
  const completionTokens = usage.output_tokens ?? 0;
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: usage.input_tokens_details?.cached_tokens ?? 0,
    estimated: false,
  };
}

/**
 * The stream's events → StreamEvents: text from `response.output_text.delta`, the whole answer
 * from `response.completed` or `response.incomplete`; `response.failed` and `error` throw.
 */
export async function* parseResponsesStream(
  events: AsyncIterable<EventSourceMessage>,
  context: StreamContext,
): AsyncGenerator<StreamEvent> {
  let finished: ChatResponse | undefined;
  for await (const event of events) {
    if (finished) continue;
    const data = parseData(event);
    switch (data.type ?? event.event) {
      case 'response.output_text.delta':
        if (typeof data.delta === 'string' && data.delta !== '')
          yield { type: 'delta', text: data.delta };
        break;
      case 'response.completed':
      case 'response.incomplete':
        finished = parseResponsesResponse(data.response, context);
        break;
      case 'response.failed':
        throw inBandOpenAIError(isRecord(data.response) ? data.response : data, label, event.data);
      case 'error':
        throw inBandOpenAIError(data, label, event.data);
      default:
        break;
    }
  }
  if (!finished) {
    throw new UpstreamError({
      kind: 'stream',
      message: `${label} stream ended before response.completed`,
    });
  }
  const { model, finishReason, toolCalls, usage } = finished;
  yield { type: 'finish', model, finishReason, toolCalls, usage };
}

function parseData(event: EventSourceMessage): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(event.data);
    return isRecord(value) ? value : {};
  } catch (cause) {
    throw new UpstreamError({
      kind: 'stream',
      message: `${label} sent a ${event.event ?? 'stream'} event that is not JSON`,
      body: event.data,
      cause,
    });
  }
}

/** OpenAI's own Responses API (not the OpenAI-compatible servers', which may lack it). */
export const openaiResponsesWire: NativeWire = {
  api: 'openai-responses',
  path: '/responses',
  maxTokensField: 'max_output_tokens',
  headers: () => ({}),
  parseResponse: parseResponsesResponse,
  parseStream: parseResponsesStream,
};
