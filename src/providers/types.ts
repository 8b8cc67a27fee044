import type { EventSourceMessage } from 'eventsource-parser';
import type { CancelSignal } from '../gateway/cancel.js';
import type { UpstreamError } from '../gateway/errors.js';
import type { ChatRequest, ChatResponse, StreamEvent, Usage } from '../gateway/types.js';

import type { ProviderType } from './provider-types.js';

export { ProviderTypes, type ProviderType } from './provider-types.js';

/** One call of a provider, with the key the gateway chose from its pool. */
export interface ProviderCall {
  request: ChatRequest;
  /** The model asked of this provider (the part after `provider/`, or an alias target's model). */
  model: string;
  key: string | undefined;
  /** Aborted when the client goes away or the request's deadline passes. */
  signal: CancelSignal;
}

/** The APIs a client may speak that a provider may speak too: its body then goes through as is. */
export type NativeApi = 'anthropic-messages' | 'openai-responses';

/** The client's own request, for a provider that speaks its API. */
export interface NativeRequest {
  api: NativeApi;
  /** The body as the client sent it (the provider sets its own model and token ceiling). */
  body: Readonly<Record<string, unknown>>;
  /** Request headers of the API to pass on (`anthropic-version`, `anthropic-beta`). */
  headers: Readonly<Record<string, string>>;
  /**
   * What the body asks that translation cannot carry (`top_k`, a server tool…): only targets
   * that speak `api` may serve it; with none, the first is refused, naming its field.
   */
  untranslatable?: readonly Untranslatable[];
}

/** A part of a client's body that only its own API's providers honour. */
export interface Untranslatable {
  /** The body's field, as the API names it: `top_k`, `tools[0].type`. */
  field: string;
  message: string;
}

export interface NativeCall extends ProviderCall {
  native: NativeRequest;
}

/** A whole pass-through answer: the upstream's body, and what it says for accounting. */
export interface NativeAnswer {
  body: unknown;
  response: ChatResponse;
}

/**
 * A pass-through stream: every upstream event as it came (`text` is the answer text it adds,
 * for the record of a stream that breaks), then one `finish` with the whole answer.
 */
export type NativeEvent =
  | { type: 'event'; message: EventSourceMessage; text: string }
  | { type: 'finish'; response: ChatResponse };

/** What a provider offers that takes a client's body as is (`http.ts`). */
export interface NativeProvider {
  readonly api: NativeApi;
  forward(call: NativeCall): Promise<NativeAnswer>;
  /** Throws an UpstreamError before the first event when the call fails. */
  forwardStream(call: NativeCall): AsyncIterable<NativeEvent>;
}

/** How an adapter passes its own API's bodies through (`HttpAdapter.native`). */
export interface NativeWire {
  readonly api: NativeApi;
  /** Appended to baseUrl: `/messages`, `/responses`. */
  path: string;
  /** The body field of the answer's token ceiling, which a budget may lower. */
  maxTokensField: string;
  /** Which of the client's headers go upstream (after, so over, `authHeaders`). */
  headers(forwarded: Readonly<Record<string, string>>): Record<string, string>;
  parseResponse(json: unknown, context: StreamContext): ChatResponse;
  /** The API's SSE events → StreamEvents, as `parseChatStream` (`native.ts` taps it). */
  parseStream(
    events: AsyncIterable<EventSourceMessage>,
    context: StreamContext,
  ): AsyncIterable<StreamEvent>;
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
  /** Set when the provider takes a client's body in its own API as is (pass-through). */
  native?: NativeProvider;
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
  /** Set when clients may speak this provider's own API to us (pass-through). */
  native?: NativeWire;
  embeddings?: {
    request(call: EmbeddingCall): HttpRequestSpec;
    parse(json: unknown, call: EmbeddingCall): EmbeddingResult;
  };
}
