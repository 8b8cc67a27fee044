/**
 * Token counts. What Conduit counts itself is an estimate from the characters (`estimateTokens`,
 * one pass, leaning high): admission (settled later with the real usage), and the usage of a
 * stream cut before its usage came or of a server that reports none (marked `estimated`). Only
 * the echo provider counts exactly, with the o200k tokenizer (`countTokens`): it weighs ~65 MB
 * once loaded and ~30 µs a prompt, so it is loaded on first use, never at startup, and a client
 * leaving a stream never loads it.
 */
import { createRequire } from 'node:module';
import type * as O200kModule from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage, ToolSpec, Usage } from '../gateway/types.js';

type O200k = typeof O200kModule;

/** Per-message framing tokens, as OpenAI's chat format counts them. */
const tokensPerMessage = 3;
/** Framing of the whole prompt (the reply's priming). */
const tokensPerPrompt = 3;

let tokenizer: O200k | undefined;

/** Loads the tokenizer on first use, synchronously (CommonJS build, through the exports map). */
function o200k(): O200k {
  tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as O200k;
  return tokenizer;
}

export const countTokens = (text: string): number => (text ? o200k().countTokens(text) : 0);

/**
 * A cheap estimate, leaning high, in one pass: a token per 4 ASCII letters or whitespace, per 2
 * other ASCII characters (digits and punctuation split into more tokens: JSON, numbers), per
 * other UTF-16 unit. Against o200k: English ×1.1, code and JSON schemas ×1.2–1.35, CJK ×1.45,
 * Cyrillic ×2.8; only random strings (hashes, base64) come out low, at ×0.4–0.8.
 */
export function estimateTokens(text: string): number {
  let words = 0;
  let symbols = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) other++;
    else if (c <= 0x20 || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a)) words++;
    else symbols++;
  }
  return Math.ceil(words / 4 + symbols / 2) + other;
}

/** Sums a prompt's parts, each counted by `count`, plus OpenAI's framing. */
function sumPrompt(
  count: (text: string) => number,
  messages: readonly ChatMessage[],
  tools: readonly ToolSpec[] | undefined,
): number {
  let total = tokensPerPrompt;
  for (const message of messages) {
    total += tokensPerMessage + count(message.content ?? '');
    for (const call of message.toolCalls ?? []) total += count(call.name) + count(call.arguments);
  }
  for (const tool of tools ?? []) {
    total += count(tool.name) + count(tool.description ?? '');
    if (tool.parameters) total += count(JSON.stringify(tool.parameters));
  }
  return total;
}

/** The prompt's tokens, counted with the tokenizer. */
export const countPromptTokens = (
  messages: readonly ChatMessage[],
  tools?: readonly ToolSpec[],
): number => sumPrompt(countTokens, messages, tools);

/** The prompt's tokens, estimated without the tokenizer (see `estimateTokens`). */
export const estimatePromptTokens = (
  messages: readonly ChatMessage[],
  tools?: readonly ToolSpec[],
): number => sumPrompt(estimateTokens, messages, tools);

/** Usage nobody reported, estimated from the characters (see `estimateTokens`). */
export function estimateUsage(
  messages: readonly ChatMessage[],
  completion: string,
  tools?: readonly ToolSpec[],
): Usage {
  const promptTokens = estimatePromptTokens(messages, tools);
  const completionTokens = estimateTokens(completion);
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: 0,
    estimated: true,
  };
}
