/**
 * The OpenAI Chat Completions wire, as the servers that speak it really send it, typed loosely:
 * every field optional, because OpenAI-compatible servers (Ollama, vLLM, Azure, Mistral) each
 * leave out or change a different one.
 *
 * @see https://platform.openai.com/docs/api-reference/chat/object
 */
import type { FinishReason, ToolChoice } from '../gateway/types.js';

export interface WireToolCall {
  /** Streams only: which call a fragment belongs to (Mistral's whole calls have none). */
  index?: number;
  id?: string | null;
  type?: string;
  /** Mistral may send the arguments as an object. */
  function?: { name?: string | null; arguments?: string | Record<string, unknown> | null };
}

export type WireContent = string | null | { type?: string; text?: string }[];

export interface WireMessage {
  role?: string | null;
  content?: WireContent;
  refusal?: string | null;
  tool_calls?: WireToolCall[] | null;
}

export interface WireUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  /** Mistral's misspelt variant. */
  prompt_token_details?: { cached_tokens?: number | null } | null;
  /** Mistral's flat variant. */
  num_cached_tokens?: number | null;
}

export interface WireChoice {
  index?: number;
  message?: WireMessage;
  delta?: WireMessage;
  finish_reason?: string | null;
}

/** A `chat.completion` body or one `chat.completion.chunk` of a stream. */
export interface WireCompletion {
  id?: string;
  object?: string;
  model?: string;
  choices?: WireChoice[];
  usage?: WireUsage | null;
  error?: unknown;
}

/** What differs between the servers that speak this wire. */
export interface OpenAIDialect {
  /** Names the provider in error messages: `OpenAI`, `Mistral`. */
  label: string;
  maxTokensField: 'max_completion_tokens' | 'max_tokens';
  /** Ask for the usage-only last chunk with `stream_options.include_usage`. */
  streamOptions: boolean;
  mapToolChoice(choice: ToolChoice): unknown;
  mapFinishReason(reason: string | null | undefined): FinishReason;
  /** Tool result messages carry the tool's `name` (Mistral). */
  toolResultName: boolean;
  /** Tools without parameters get an empty object schema (Mistral requires one). */
  requireToolParameters: boolean;
  /** The embeddings request's field for the vector size. */
  dimensionsField: 'dimensions' | 'output_dimension';
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Text of a message's content: a string, or the text parts of an array of parts. */
export function textOf(content: WireContent | undefined): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (part.type === 'text' && part.text ? part.text : '')).join('');
}

/** Tool-call arguments as JSON text, whichever form they came in. */
export function argumentsText(value: string | Record<string, unknown> | null | undefined): string {
  if (typeof value === 'string') return value;
  return value ? JSON.stringify(value) : '';
}
