/**
 * The gateway's Completion → Anthropic's `message` object, whichever provider answered.
 *
 * @see https://docs.claude.com/en/api/messages (Response)
 */
import type { Completion, FinishReason, ToolCall, Usage } from '../../gateway/types.js';

/**
 * Maps the gateway's finish reason to Anthropic's stop reason.
 * @see https://docs.claude.com/en/api/handling-stop-reasons
 */
export function mapStopReason(reason: FinishReason): string {
  switch (reason) {
    case 'STOP':
      return 'end_turn';
    case 'LENGTH':
      return 'max_tokens';
    case 'TOOL_CALLS':
      return 'tool_use';
    case 'CONTENT_FILTER':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** Anthropic counts input without the cached part, which it reports beside it. */
export function toAnthropicUsage(usage: Usage) {
  return {
    input_tokens: Math.max(0, usage.promptTokens - usage.cachedPromptTokens),
    output_tokens: usage.completionTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: usage.cachedPromptTokens,
    service_tier: 'standard',
  };
}

/** A tool call's arguments as the object `tool_use.input` must be (`{}` if they are not one). */
export function toInput(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

export const toolUseBlock = (call: ToolCall) => ({
  type: 'tool_use' as const,
  id: call.id,
  name: call.name,
  input: toInput(call.arguments),
});

export const messageId = (requestId: string) => `msg_${requestId.replaceAll('-', '')}`;

/** A whole Completion → a `message` body. */
export function toMessage(completion: Completion) {
  const content: unknown[] = [];
  if (completion.content) content.push({ type: 'text', text: completion.content });
  for (const call of completion.toolCalls) content.push(toolUseBlock(call));
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: completion.model,
    content,
    stop_reason: mapStopReason(completion.finishReason),
    stop_sequence: null,
    usage: toAnthropicUsage(completion.usage),
  };
}
