/**
 * An OpenAI-style `chat.completion` body → ChatResponse, with its usage and finish reason.
 *
 * @see https://platform.openai.com/docs/api-reference/chat/object
 */
import { UpstreamError } from '../gateway/errors.js';
import type { ChatResponse, FinishReason, ToolCall, Usage } from '../gateway/types.js';
import { estimateUsage } from '../usage/tokens.js';
import { inBandOpenAIError, isOpenAIErrorPayload } from './openai-errors.js';
import {
  argumentsText,
  isRecord,
  textOf,
  type OpenAIDialect,
  type WireCompletion,
  type WireUsage,
} from './openai-wire.js';
import type { StreamContext } from './types.js';

/** @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices */
export function mapOpenAIFinishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'length':
      return 'LENGTH';
    case 'tool_calls':
    case 'function_call':
      return 'TOOL_CALLS';
    case 'content_filter':
      return 'CONTENT_FILTER';
    case 'stop':
    default:
      return 'STOP';
  }
}

const count = (value: number | null | undefined): number =>
  typeof value === 'number' && Number.isFinite(value) ? value : 0;

/** `prompt_tokens` already includes the cached ones, for OpenAI and Mistral alike. */
export function convertOpenAIUsage(usage: WireUsage): Usage {
  const promptTokens = count(usage.prompt_tokens);
  const completionTokens = count(usage.completion_tokens);
  const cached =
    usage.prompt_tokens_details?.cached_tokens ??
    usage.prompt_token_details?.cached_tokens ??
    usage.num_cached_tokens;
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: count(cached),
    estimated: false,
  };
}

/** Usage counted with the tokenizer, for servers that sent none. */
export function estimateOpenAIUsage(
  context: StreamContext,
  text: string,
  toolCalls: readonly ToolCall[],
): Usage {
  const completion = text + toolCalls.map((call) => call.name + call.arguments).join('');
  return estimateUsage(context.request.messages, completion, context.request.tools);
}

/** Mistral's `finish_reason: "error"`: the answer broke off; never pass it on as whole. */
export const failedGeneration = (label: string, raw: string): UpstreamError =>
  new UpstreamError({
    kind: 'server',
    message: `${label} stopped with finish_reason "error"`,
    body: raw,
  });

export function parseOpenAIChatResponse(
  json: unknown,
  context: StreamContext,
  dialect: OpenAIDialect,
): ChatResponse {
  // The body as text only for an error that quotes it: not on every answer.
  const raw = () => JSON.stringify(json) ?? '';
  if (isOpenAIErrorPayload(json)) throw inBandOpenAIError(json, dialect.label, raw());
  const body = (isRecord(json) ? json : {}) as WireCompletion;
  const choice =
    body.choices?.find((c) => (c.index ?? 0) === 0) ??
    (Array.isArray(body.choices) ? body.choices[0] : undefined);
  if (!choice) {
    throw new UpstreamError({
      kind: 'server',
      message: `${dialect.label} answered without a choice`,
      body: raw(),
    });
  }
  if (choice.finish_reason === 'error') throw failedGeneration(dialect.label, raw());
  const message = choice.message ?? {};
  const toolCalls = (message.tool_calls ?? []).map((call, i): ToolCall => ({
    id: call.id || `call_${i}`,
    name: call.function?.name ?? '',
    arguments: argumentsText(call.function?.arguments),
  }));
  const text = textOf(message.content) || message.refusal || '';
  return {
    model: body.model || context.model,
    content: text === '' && toolCalls.length > 0 ? null : text,
    toolCalls,
    finishReason: dialect.mapFinishReason(choice.finish_reason),
    usage: body.usage
      ? convertOpenAIUsage(body.usage)
      : estimateOpenAIUsage(context, text, toolCalls),
  };
}
