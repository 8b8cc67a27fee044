/**
 * Token counts. What Conduit counts itself is an estimate from the characters (`estimateTokens`,
 * one pass, leaning high): admission (settled later with the real usage), and the usage of a
 * stream cut before its usage came or of a server that reports none (marked `estimated`). Only
 * the echo provider counts exactly, with the o200k tokenizer (`countTokens`): it weighs ~65 MB
 * once loaded and ~30 µs a prompt, so it is loaded on first use, never at startup, and a client
 * leaving a stream never loads it.
 *
 * Every count here is linear in the text, and bounded. The estimate is one pass. The tokenizer's
 * byte-pair merging is quadratic in the length of one pre-token chunk (a 200 KB word without
 * spaces took 47 s) and slow on random text (~5 µs a character), so `countTokens` never hands it
 * a chunk longer than `longChunk` characters nor more than `exactChars` of one count: the rest is
 * counted from its characters; ordinary prompts are counted exactly.
 */
import { createRequire } from 'node:module';
import type * as O200kModule from 'gpt-tokenizer/encoding/o200k_base';
import type * as SplitModule from 'gpt-tokenizer/encodingParams/constants';
import type { ChatMessage, ToolSpec, Usage } from '../gateway/types.js';

type O200k = typeof O200kModule;

/** Per-message framing tokens, as OpenAI's chat format counts them. */
const tokensPerMessage = 3;
/** Framing of the whole prompt (the reply's priming). */
const tokensPerPrompt = 3;

/**
 * The longest pre-token chunk the tokenizer is given: its merging costs ~1 ms at this length and
 * grows with the square of it; the longest English word is 45 letters.
 */
export const longChunk = 256;

interface Tokenizer {
  count: (text: string) => number;
  /** o200k's own pre-tokenizer: where it cuts text into chunks before merging each. */
  split: RegExp;
}

let tokenizer: Tokenizer | undefined;

/** Loads the tokenizer on first use, synchronously (CommonJS build, through the exports map). */
function o200k(): Tokenizer {
  if (tokenizer) return tokenizer;
  const require = createRequire(import.meta.url);
  const encoding = require('gpt-tokenizer/encoding/o200k_base') as O200k;
  const { O200K_TOKEN_SPLIT_REGEX } =
    require('gpt-tokenizer/encodingParams/constants') as typeof SplitModule;
  // Text such as <|endoftext|> in a prompt is text (the library would throw on it).
  const asText = { disallowedSpecial: new Set<string>() };
  tokenizer = {
    count: (text) => encoding.countTokens(text, asText),
    split: O200K_TOKEN_SPLIT_REGEX,
  };
  return tokenizer;
}

/**
 * Whether some run of whitespace, or of anything else, is longer than `longChunk`: without one,
 * no pre-token chunk is much longer either (a chunk is letters with one character before them,
 * digits, or symbols followed by line breaks), so the text can go to the tokenizer whole.
 */
function hasLongRun(text: string): boolean {
  let run = 0;
  let space = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const isSpace = c === 0x20 || (c >= 0x09 && c <= 0x0d);
    if (isSpace === space) {
      if (++run > longChunk) return true;
    } else {
      space = isSpace;
      run = 1;
    }
  }
  return false;
}

/**
 * How many characters one count (a text, or a whole prompt) gives the tokenizer; the rest
 * is counted from its characters. Random text (base64, hashes) costs the tokenizer ~5 µs a
 * character even in short chunks, so this bounds a count's time (~160 ms at worst), not only the
 * length of its chunks. Prompts up to it, ~8K tokens of prose, are counted exactly.
 */
export const exactChars = 32 * 1024;

/** Exact counting is handed out in pieces of about this many characters, ~20 ms at worst. */
const pieceChars = 4 * 1024;

/** What is left of one count's `exactChars`, shared by the texts of one prompt. */
export interface ExactBudget {
  left: number;
}

/**
 * The text in pieces, cut where the tokenizer cuts it anyway (so counting the pieces apart gives
 * the same count as the whole): runs of ordinary chunks up to `pieceChars`, to count exactly, and
 * each chunk longer than `longChunk` and whatever passes the budget, to count from characters.
 * The split pattern has no lookbehind and looks ahead only past whitespace, so a piece cut at a
 * chunk's edge is split as it was in the whole text.
 */
function* pieces(
  text: string,
  split: RegExp,
  budget: ExactBudget,
): Generator<[piece: string, exact: boolean]> {
  if (text.length <= Math.min(pieceChars, budget.left) && !hasLongRun(text)) {
    budget.left -= text.length;
    yield [text, true];
    return;
  }
  // The pattern runs over no more than the budget can use (its Unicode classes cost ~0.5 µs a
  // character): a chunk that ends within `margin` of the head's end might run on past it.
  const head =
    text.length > budget.left + pieceChars ? text.slice(0, budget.left + pieceChars) : text;
  const margin = head === text ? 0 : longChunk;
  let start = 0;
  let whole = head === text;
  for (const match of head.matchAll(split)) {
    const end = match.index + match[0].length;
    if (end > head.length - margin || budget.left <= 0) {
      whole = false;
      break;
    }
    if (match[0].length > longChunk) {
      if (match.index > start) yield* exact(text.slice(start, match.index), budget);
      yield [match[0], false];
      start = end;
    } else if (end - start >= Math.min(pieceChars, budget.left)) {
      yield* exact(text.slice(start, end), budget);
      start = end;
    }
  }
  // The rest holds only short chunks if the pattern saw it all; otherwise it is never tokenized.
  if (start < text.length) {
    if (whole) yield* exact(text.slice(start), budget);
    else yield [text.slice(start), false];
  }
}

/** A piece counted exactly while the budget lasts, else from its characters. */
function* exact(piece: string, budget: ExactBudget): Generator<[string, boolean]> {
  const ok = budget.left > 0;
  if (ok) budget.left -= piece.length;
  yield [piece, ok];
}

/**
 * The text's o200k tokens: exact for text up to `exactChars` characters whose words are shorter
 * than `longChunk`; a longer run without a break, and what passes `exactChars`, is counted as
 * `estimateTokens` counts it.
 */
export function countTokens(text: string, budget: ExactBudget = { left: exactChars }): number {
  if (!text) return 0;
  const { count, split } = o200k();
  let total = 0;
  for (const [piece, isExact] of pieces(text, split, budget)) {
    total += isExact ? count(piece) : estimateTokens(piece);
  }
  return total;
}

/** The echo provider's counts, as `countTokens` and `countPromptTokens` make them. */
export interface TokenCounter {
  /** Counts like `countTokens`, letting other work run between pieces (every ~5 ms). */
  count(text: string): Promise<number>;
  /** Counts like `countPromptTokens`, letting other work run between pieces. */
  countPrompt(messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): Promise<number>;
}

export function createTokenCounter(): TokenCounter {
  let since = performance.now();
  const pause = async () => {
    await new Promise(setImmediate);
    since = performance.now();
  };
  const count = async (text: string, budget: ExactBudget = { left: exactChars }) => {
    if (!text) return 0;
    // A long text costs a pass or two even counted from its characters: each in a turn of its own.
    if (text.length > pieceChars * 16) await pause();
    const { count: exactly, split } = o200k();
    let total = 0;
    for (const [piece, isExact] of pieces(text, split, budget)) {
      total += isExact ? exactly(piece) : estimateTokens(piece);
      if (performance.now() - since > 5) await pause();
    }
    return total;
  };
  return {
    count: (text) => count(text),
    async countPrompt(messages, tools) {
      const budget: ExactBudget = { left: exactChars };
      let total = promptFraming(messages);
      for (const text of promptTexts(messages, tools)) total += await count(text, budget);
      return total;
    },
  };
}

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

/** OpenAI's framing of a chat prompt, in tokens. */
const promptFraming = (messages: readonly ChatMessage[]): number =>
  tokensPerPrompt + tokensPerMessage * messages.length;

/** Every text of a prompt that is counted: contents, tool calls, tools. */
function* promptTexts(
  messages: readonly ChatMessage[],
  tools: readonly ToolSpec[] | undefined,
): Generator<string> {
  for (const message of messages) {
    yield message.content ?? '';
    for (const call of message.toolCalls ?? []) yield* [call.name, call.arguments];
  }
  for (const tool of tools ?? []) {
    yield* [tool.name, tool.description ?? ''];
    if (tool.parameters) yield JSON.stringify(tool.parameters);
  }
}

/** The prompt's tokens, counted with the tokenizer (one `exactChars` budget for the prompt). */
export function countPromptTokens(
  messages: readonly ChatMessage[],
  tools?: readonly ToolSpec[],
): number {
  const budget: ExactBudget = { left: exactChars };
  let total = promptFraming(messages);
  for (const text of promptTexts(messages, tools)) total += countTokens(text, budget);
  return total;
}

/** The prompt's tokens, estimated without the tokenizer (see `estimateTokens`). */
export function estimatePromptTokens(
  messages: readonly ChatMessage[],
  tools?: readonly ToolSpec[],
): number {
  let total = promptFraming(messages);
  for (const text of promptTexts(messages, tools)) total += estimateTokens(text);
  return total;
}

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
