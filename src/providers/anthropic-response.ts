/**
 * Anthropic Messages response → ChatResponse: text blocks joined, `tool_use` blocks as tool
 * calls, `stop_reason` and `usage` mapped.
 *
 * @see https://docs.claude.com/en/api/messages
 */
import { UpstreamError } from '../gateway/errors.js';
import type { ChatResponse, FinishReason, ToolCall, Usage } from '../gateway/types.js';
import { estimateUsage } from '../usage/tokens.js';
import type { StreamContext } from './types.js';

/** The usage fields we read; every one optional (the stream sends them piecemeal). */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

interface AnthropicMessage {
  model?: string;
  content?: { type?: string; text?: string; id?: string; name?: string; input?: unknown }[];
  stop_reason?: string | null;
  usage?: AnthropicUsage;
}

/**
 * @see https://docs.claude.com/en/api/handling-stop-reasons
 */
export function mapAnthropicStopReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'STOP';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'LENGTH';
    case 'tool_use':
      return 'TOOL_CALLS';
    case 'refusal':
      return 'CONTENT_FILTER';
    default:
      return 'STOP';
  }
}

/**
 * `input_tokens` excludes cache reads and writes; our promptTokens includes both.
 * @see https://docs.claude.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance
 */
export function convertAnthropicUsage(usage: AnthropicUsage): Usage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const promptTokens =
    (usage.input_tokens ?? 0) + cacheRead + (usage.cache_creation_input_tokens ?? 0);
  const completionTokens = usage.output_tokens ?? 0;
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: cacheRead,
    estimated: false,
  };
}

export function parseAnthropicResponse(json: unknown, context: StreamContext): ChatResponse {
  if (
    typeof json !== 'object' ||
    json === null ||
    !Array.isArray((json as AnthropicMessage).content)
  ) {
    throw new UpstreamError({
      kind: 'server',
      message: 'anthropic answered a body that is not a message',
      body: JSON.stringify(json),
    });
  }
  const message = json as AnthropicMessage;
  let text = '';
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  for (const block of message.content ?? []) {
    if (block.type === 'text' && typeof block.text === 'string') {
      text += block.text;
      hasText = true;
    } else if (block.type === 'tool_use') {
      toolCalls.push({
        id: block.id ?? '',
        name: block.name ?? '',
        arguments: JSON.stringify(block.input ?? {}),
      });
    }
  }
  const { request } = context;
  return {
    model: message.model ?? context.model,
    content: hasText || toolCalls.length === 0 ? text : null,
    toolCalls,
    finishReason: mapAnthropicStopReason(message.stop_reason),
    usage: message.usage
      ? convertAnthropicUsage(message.usage)
      : estimateUsage(request.messages, completionText(text, toolCalls), request.tools),
  };
}

/** What the model wrote, for counting when the provider gave no usage. */
export const completionText = (text: string, toolCalls: readonly ToolCall[]): string =>
  [text, ...toolCalls.map((call) => call.name + call.arguments)].join('');
