import type { EventSourceMessage } from 'eventsource-parser';
import type { CancelSignal } from '../gateway/cancel.js';
import type { UpstreamError } from '../gateway/errors.js';
import type { ChatRequest, ChatResponse, StreamEvent, Usage } from '../gateway/types.js';

export const ProviderTypes = [
  'openai',
  'anthropic',
  'gemini',
  'mistral',
  'openai-compatible',
  'echo',
] as const;
export type ProviderType = (typeof ProviderTypes)[number];

/** One call of a provider, with the key the gateway chose from its pool. */
export interface ProviderCall {
  request: ChatRequest;
  /** The model asked of this provider (the part after `provider/`, or an alias target's model). */
  model: string;
  key: string | undefined;
  /** Aborted when the client goes away or the request's deadline passes. */
  signal: CancelSignal;
}

export interface EmbeddingCall {
  input: string[];
  model: string;
  key: string | undefined;
  signal: CancelSignal;
  dimensions?: number;
}

export interface EmbeddingResult {
  model: string;
  embeddings: number[][];
  usage: Usage;
}

/** A configured provider, ready to call: what the gateway sees. */
export interface Provider {
  readonly name: string;
  readonly type: ProviderType;
  /** What this provider offers, as configured (empty: anything). */
  readonly models: readonly string[];
  /** False: the provider takes no image parts (requests with images are refused). @default true */
  readonly images?: boolean;
  chat(call: ProviderCall): Promise<ChatResponse>;
  /** Throws an UpstreamError before the first event when the call fails. */
  chatStream(call: ProviderCall): AsyncIterable<StreamEvent>;
  embed?(call: EmbeddingCall): Promise<EmbeddingResult>;
  /**
   * One cheap authenticated call (GET {baseUrl}/models, which every HTTP provider offers) to
   * learn whether a refused key is taken again; resolves to the HTTP status.
   */
  probeKey?(key: string): Promise<number>;
  close(): Promise<void>;
}

/** The upstream HTTP request an adapter wants made, relative to the provider's baseUrl. */
export interface HttpRequestSpec {
  /** Appended to baseUrl: `/chat/completions`, `/models/gpt:generateContent?alt=sse`. */
  path: string;
  body: unknown;
}

export interface HttpErrorResponse {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as text; may be empty or not JSON. */
  body: string;
}

export interface StreamContext {
  model: string;
  request: ChatRequest;
}

/**
 * Pure translation between ChatRequest/ChatResponse and one provider's wire format.
 * "Where to call" (baseUrl, auth headers) is split from "how to translate".
 */
export interface HttpAdapter {
  /** Default baseUrl; ends with the API's version path. Undefined: the config must give one. */
  readonly defaultBaseUrl: string | undefined;
  authHeaders(key: string | undefined): Record<string, string>;
  chatRequest(request: ChatRequest, options: { model: string; stream: boolean }): HttpRequestSpec;
  parseChatResponse(json: unknown, context: StreamContext): ChatResponse;
  /** SSE messages in, stream events out; throws UpstreamError for in-band errors and early ends. */
  parseChatStream(
    events: AsyncIterable<EventSourceMessage>,
    context: StreamContext,
  ): AsyncIterable<StreamEvent>;
  parseError(response: HttpErrorResponse): UpstreamError;
  embeddings?: {
    request(call: EmbeddingCall): HttpRequestSpec;
    parse(json: unknown, call: EmbeddingCall): EmbeddingResult;
  };
}
