/**
 * Gemini `GenerateContentResponse` (one body, or one per `alt=sse` event) → ChatResponse and
 * StreamEvents.
 * @see https://ai.google.dev/api/generate-content#generatecontentresponse
 */
import { createHash } from 'node:crypto';
import type { EventSourceMessage } from 'eventsource-parser';
import { UpstreamError } from '../gateway/errors.js';
import type { ChatResponse, FinishReason, StreamEvent, ToolCall, Usage } from '../gateway/types.js';
import { estimateUsage } from '../usage/tokens.js';
import { geminiErrorOf, geminiStreamError } from './gemini-error.js';
import type { GeminiPart } from './gemini-request.js';
import type { StreamContext } from './types.js';

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  cachedContentTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiResponse {
  candidates?: {
    content?: { role?: string; parts?: GeminiPart[] };
    finishReason?: string;
    index?: number;
  }[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
}

/**
 * Gemini has no finish reason for tool calls: a STOP with function calls is TOOL_CALLS.
 * @see https://ai.google.dev/api/generate-content#FinishReason
 */
export function mapGeminiFinishReason(
  reason: string | undefined,
  hasToolCalls: boolean,
): FinishReason {
  switch (reason) {
    case 'MAX_TOKENS':
      return 'LENGTH';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
    case 'IMAGE_PROHIBITED_CONTENT':
    case 'IMAGE_RECITATION':
      return 'CONTENT_FILTER';
    case 'STOP':
    default:
      return hasToolCalls ? 'TOOL_CALLS' : 'STOP';
  }
}

/**
 * `promptTokenCount` includes `cachedContentTokenCount`; thinking tokens are billed as output
 * but counted outside `candidatesTokenCount`.
 */
export function convertGeminiUsage(usage: GeminiUsageMetadata): Usage {
  const promptTokens = usage.promptTokenCount ?? 0;
  const completionTokens = (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0);
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: usage.cachedContentTokenCount ?? 0,
    estimated: false,
  };
}

/**
 * Gemini names no tool calls, so we make ids from the answer: the same answer gets the same
 * ids, streamed or not, and different answers differ.
 */
export function geminiToolCallId(
  responseId: string | undefined,
  index: number,
  name: string,
  args: string,
): string {
  const hash = createHash('sha256').update(`${responseId ?? ''}\0${index}\0${name}\0${args}`);
  return `call_${hash.digest('hex').slice(0, 24)}`;
}

/** Folds the chunks of one answer (or the one body) into text, tool calls and the rest. */
class Answer {
  text = '';
  readonly toolCalls: ToolCall[] = [];
  finishReason: string | undefined;
  blocked = false;
  usage: GeminiUsageMetadata | undefined;
  model: string | undefined;
  responseId: string | undefined;

  /** Adds one response; returns the new text it held. */
  add(response: GeminiResponse): string {
    this.responseId ??= response.responseId;
    this.model = response.modelVersion ?? this.model;
    if (response.usageMetadata) this.usage = response.usageMetadata;
    if (response.promptFeedback?.blockReason) this.blocked = true;
    const candidate = response.candidates?.[0];
    if (candidate?.finishReason) this.finishReason = candidate.finishReason;
    let text = '';
    for (const part of candidate?.content?.parts ?? []) {
      if (part.functionCall) {
        const args = JSON.stringify(part.functionCall.args ?? {});
        const { name } = part.functionCall;
        const id =
          part.functionCall.id ??
          geminiToolCallId(this.responseId, this.toolCalls.length, name, args);
        this.toolCalls.push({ id, name, arguments: args });
      } else if (typeof part.text === 'string' && !part.thought) {
        text += part.text;
      }
    }
    this.text += text;
    return text;
  }

  get ended(): boolean {
    return this.finishReason !== undefined || this.blocked;
  }

  finish(context: StreamContext): Omit<ChatResponse, 'content'> {
    const finishReason = this.blocked
      ? 'CONTENT_FILTER'
      : mapGeminiFinishReason(this.finishReason, this.toolCalls.length > 0);
    const usage = this.usage
      ? convertGeminiUsage(this.usage)
      : estimateUsage(context.request.messages, this.text, context.request.tools);
    return { model: this.model ?? context.model, toolCalls: this.toolCalls, finishReason, usage };
  }
}

const asResponse = (json: unknown): GeminiResponse =>
  typeof json === 'object' && json !== null ? (json as GeminiResponse) : {};

export function parseChatResponse(json: unknown, context: StreamContext): ChatResponse {
  const answer = new Answer();
  answer.add(asResponse(json));
  const { model, toolCalls, finishReason, usage } = answer.finish(context);
  const content = answer.text === '' && toolCalls.length > 0 ? null : answer.text;
  return { model, content, toolCalls, finishReason, usage };
}

export async function* parseChatStream(
  events: AsyncIterable<EventSourceMessage>,
  context: StreamContext,
): AsyncGenerator<StreamEvent> {
  const answer = new Answer();
  for await (const event of events) {
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch (cause) {
      throw new UpstreamError({
        kind: 'stream',
        message: 'gemini sent a stream event that is not JSON',
        body: event.data,
        cause,
      });
    }
    const error = geminiErrorOf(json);
    if (error) throw geminiStreamError(error, event.data);
    const text = answer.add(asResponse(json));
    if (text) yield { type: 'delta', text };
  }
  if (!answer.ended) {
    throw new UpstreamError({
      kind: 'stream',
      message: 'gemini stream ended before its finishReason',
    });
  }
  yield { type: 'finish', ...answer.finish(context) };
}
