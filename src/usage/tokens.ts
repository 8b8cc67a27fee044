/**
 * Token counts where a provider gives none: the o200k tokenizer, which is exact for current
 * OpenAI models and a fair estimate for the others.
 */
import { countTokens as count } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage, ToolSpec, Usage } from '../gateway/types.js';

/** Per-message framing tokens, as OpenAI's chat format counts them. */
const tokensPerMessage = 3;

export const countTokens = (text: string): number => (text ? count(text) : 0);

export function countPromptTokens(
  messages: readonly ChatMessage[],
  tools?: readonly ToolSpec[],
): number {
  let total = 3;
  for (const message of messages) {
    total += tokensPerMessage + countTokens(message.content ?? '');
    for (const call of message.toolCalls ?? [])
      total += countTokens(call.name) + countTokens(call.arguments);
  }
  for (const tool of tools ?? []) {
    total += countTokens(tool.name) + countTokens(tool.description ?? '');
    if (tool.parameters) total += countTokens(JSON.stringify(tool.parameters));
  }
  return total;
}

export function estimateUsage(
  messages: readonly ChatMessage[],
  completion: string,
  tools?: readonly ToolSpec[],
): Usage {
  const promptTokens = countPromptTokens(messages, tools);
  const completionTokens = countTokens(completion);
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: 0,
    estimated: true,
  };
}
