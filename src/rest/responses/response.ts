/**
 * The gateway's answer → OpenAI's Response object, and a Response's output back into messages
 * (for `previous_response_id` and `item_reference`). Ids are made from the request id, so an
 * output item's id names the response it came from: `msg_<id>`, `fc_<id>_<n>`.
 *
 * @see https://platform.openai.com/docs/api-reference/responses/object
 */
import type { ChatMessage, FinishReason, ToolCall, Usage } from '../../gateway/types.js';
import { isObject } from '../json-fields.js';
import type { ResponsesCall } from './request.js';

export type Json = Record<string, unknown>;

export const responseId = (requestId: string) => `resp_${requestId}`;
export const messageId = (requestId: string) => `msg_${requestId}`;
export const functionCallId = (requestId: string, index: number) => `fc_${requestId}_${index}`;

/** The response id an output item's id names (`msg_<id>`, `fc_<id>_<n>`), else undefined. */
export function responseIdOfItem(itemId: string): string | undefined {
  const match = /^(?:msg|fc)_([\w-]+?)(?:_\d+)?$/.exec(itemId);
  return match ? responseId(match[1]!) : undefined;
}

export const seconds = (ms: number) => Math.floor(ms / 1000);

/** What a Response says before and after the model's part. */
export interface ResponseBase {
  id: string;
  createdAt: number;
  model: string;
  call: ResponsesCall;
}

/** The Response's fields that do not depend on the answer, with `status` and `output`. */
export function responseObject(base: ResponseBase, status: string, output: Json[]): Json {
  const { call } = base;
  const response: Json = {
    id: base.id,
    object: 'response',
    created_at: seconds(base.createdAt),
    status,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: call.instructions,
    max_output_tokens: call.maxTokens ?? null,
    model: base.model,
    output,
    parallel_tool_calls: call.echo.parallelToolCalls,
    previous_response_id: call.previousResponseId,
    reasoning: null,
    service_tier: 'default',
    store: call.store,
    temperature: call.temperature ?? 1,
    text: { format: call.echo.format },
    tool_choice: call.echo.toolChoice,
    tools: call.echo.tools,
    top_p: call.topP ?? 1,
    truncation: 'disabled',
    metadata: call.echo.metadata,
  };
  if (call.user !== undefined) response.user = call.user;
  return response;
}

/** Sets the fields a finished answer adds: status, completion time, why incomplete, usage. */
export function finish(response: Json, reason: FinishReason, usage: Usage): Json {
  const incomplete = incompleteReason(reason);
  response.status = incomplete ? 'incomplete' : 'completed';
  response.completed_at = incomplete ? null : seconds(Date.now());
  response.incomplete_details = incomplete ? { reason: incomplete } : null;
  response.usage = toUsage(usage);
  return response;
}

/**
 * Why an answer stopped short, in the Responses API's words; null when it finished.
 * @see https://platform.openai.com/docs/api-reference/responses/object#responses/object-incomplete_details
 */
export function incompleteReason(reason: FinishReason): string | null {
  switch (reason) {
    case 'LENGTH':
      return 'max_output_tokens';
    case 'CONTENT_FILTER':
      return 'content_filter';
    default:
      return null;
  }
}

export function toUsage(usage: Usage): Json {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cachedPromptTokens, cache_write_tokens: 0 },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.totalTokens,
  };
}

export const outputText = (text: string): Json => ({
  type: 'output_text',
  text,
  annotations: [],
  logprobs: [],
});

export function messageItem(requestId: string, status: string, content: Json[]): Json {
  return { id: messageId(requestId), type: 'message', role: 'assistant', status, content };
}

export function functionCallItem(
  requestId: string,
  index: number,
  call: ToolCall,
  status: string,
  args = call.arguments,
): Json {
  return {
    id: functionCallId(requestId, index),
    type: 'function_call',
    call_id: call.id,
    name: call.name,
    arguments: args,
    status,
  };
}

/**
 * The output items of an answer: its text as one message (left out when the model only calls
 * tools), then one function_call item per tool call.
 */
export function outputItems(
  requestId: string,
  content: string | null,
  toolCalls: readonly ToolCall[],
): Json[] {
  const items: Json[] = [];
  if ((content ?? '') !== '' || toolCalls.length === 0) {
    items.push(messageItem(requestId, 'completed', [outputText(content ?? '')]));
  }
  toolCalls.forEach((call, i) => items.push(functionCallItem(requestId, i, call, 'completed')));
  return items;
}

/** A Response's output items → the assistant messages they stand for. */
export function outputToMessages(output: readonly unknown[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const item of output) {
    const message = itemToMessage(item);
    if (message) messages.push(message);
  }
  return mergeToolCalls(messages);
}

/** One output item → its assistant message; undefined for an item that is not ours. */
export function itemToMessage(item: unknown): ChatMessage | undefined {
  if (!isObject(item)) return undefined;
  if (item.type === 'message' && Array.isArray(item.content)) {
    const text = item.content
      .map((part: unknown) => (isObject(part) && typeof part.text === 'string' ? part.text : ''))
      .join('');
    return { role: 'assistant', content: text };
  }
  if (item.type === 'function_call') {
    return {
      role: 'assistant',
      content: null,
      toolCalls: [
        { id: String(item.call_id), name: String(item.name), arguments: String(item.arguments) },
      ],
    };
  }
  return undefined;
}

/**
 * Folds function calls into the assistant message before them: the Responses API lists each call
 * as its own item, chat APIs hang them on one assistant turn.
 */
export function mergeToolCalls(messages: readonly ChatMessage[]): ChatMessage[] {
  const merged: ChatMessage[] = [];
  for (const message of messages) {
    const last = merged[merged.length - 1];
    if (message.role === 'assistant' && message.toolCalls && last?.role === 'assistant') {
      merged[merged.length - 1] = {
        ...last,
        toolCalls: [...(last.toolCalls ?? []), ...message.toolCalls],
      };
    } else merged.push(message);
  }
  return merged;
}
