/**
 * The one internal shape of a chat request and its answer, whatever provider serves it.
 * Edges (GraphQL, REST) translate into these; provider adapters translate out of them.
 */

export const Roles = ['system', 'user', 'assistant', 'tool'] as const;
export type Role = (typeof Roles)[number];

export const FinishReasons = ['STOP', 'LENGTH', 'TOOL_CALLS', 'CONTENT_FILTER'] as const;
export type FinishReason = (typeof FinishReasons)[number];

export type CacheKind = 'exact' | 'semantic';

export const CacheModes = ['DEFAULT', 'BYPASS', 'REFRESH'] as const;
export type CacheMode = (typeof CacheModes)[number];

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text as the model wrote it. */
  arguments: string;
}

/** The edge a request came in by; usage records it (`usage(groupBy: [ROUTE])`). */
export const Routes = [
  'graphql',
  'chat_completions',
  'responses',
  'messages',
  'embeddings',
] as const;
export type Route = (typeof Routes)[number];

/** An image in a user message: a URL the provider fetches, or the bytes inline. */
export type ImageSource =
  { kind: 'url'; url: string } | { kind: 'base64'; mediaType: string; data: string };

/** One part of a multimodal message. */
export type ContentPart = { type: 'text'; text: string } | { type: 'image'; source: ImageSource };

export interface ChatMessage {
  role: Role;
  /** Null for an assistant turn that only calls tools. */
  content: string | null;
  /**
   * Text and image parts in order, when the message carries more than text. `content` then
   * holds the text parts joined, for what reads text only (token estimates, cache keys, logs).
   */
  parts?: ContentPart[];
  toolCalls?: ToolCall[];
  /** For role `tool`: the call this message answers. */
  toolCallId?: string;
}

export interface ToolSpec {
  name: string;
  description?: string;
  /** The JSON Schema of the arguments. */
  parameters?: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** JSON output: any JSON object, or one matching a JSON Schema. */
export type ResponseFormat =
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      name: string;
      schema: Record<string, unknown>;
      description?: string;
      strict?: boolean;
    };

export interface ChatRequest {
  /** As the client called it: an alias or `provider/model`. */
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  /** The end user, for per-user limits and usage. */
  user?: string;
  cache: CacheMode;
  /** The edge it came in by; `graphql` when unset. */
  route?: Route;
  /** JSON output, where the provider supports it; absent: text. */
  responseFormat?: ResponseFormat;
  /** The semantic cache's per-request controls (docs/semantic-cache.md). */
  cacheOptions?: CacheOptions;
}

export interface CacheOptions {
  /** Raises (never lowers) the similarity a semantic hit needs. */
  minSimilarity?: number;
  /** Read the cache, but do not store this answer by meaning. */
  noStore?: boolean;
}

/** On a semantic cache hit: how near the prompts were, and which entry answered. */
export interface SemanticHit {
  similarity: number;
  entryId: string;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens served from the provider's prompt cache (included in promptTokens). */
  cachedPromptTokens: number;
  /** True when the provider gave no usage and we counted with the tokenizer. */
  estimated: boolean;
}

/** What a provider answers to one call. */
export interface ChatResponse {
  /** The upstream model that answered (a dated snapshot, say), else the model asked. */
  model: string;
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
}

/** What a provider's stream yields: text as it comes, then one `finish` with the rest. */
export type StreamEvent =
  | { type: 'delta'; text: string }
  | {
      type: 'finish';
      model: string;
      finishReason: FinishReason;
      toolCalls: ToolCall[];
      usage: Usage;
    };

export interface Target {
  /** The configured provider's name. */
  provider: string;
  /** The model asked of it. */
  model: string;
  weight: number;
}

export interface Attempt {
  provider: string;
  model: string;
  /** `ok`, or the kind of failure. */
  status: string;
  /** The failure's message; null when the try succeeded. */
  error: string | null;
  latencyMs: number;
}

export interface Caller {
  /** The client's id; `anonymous` when no clients are configured. */
  clientId: string;
  admin: boolean;
  /** Allowed aliases and `provider/model` globs; undefined means all. */
  models?: readonly string[];
  /** The end user named in the request, if any; fixed by a token (`grant`). */
  user?: string;
  /** Set when the caller came with a token rather than a key (`src/access/`). */
  grant?: Grant;
}

/**
 * What a token (a session token, or a JWT of the app's identity provider) lets its bearer do:
 * its end user is `Caller.user`, which a request's own `user` cannot change.
 */
export interface Grant {
  kind: 'session' | 'jwt';
  /** Epoch seconds the token expires. */
  expiresAt: number;
  /** A session token's client key fingerprint: the client re-keyed, the token is refused. */
  keyId?: string;
  /** The most answer tokens a request may ask for (lowered to it). */
  maxTokensPerRequest?: number;
  /** The user's own budget (USD) for the client's budget period (a month when it has none). */
  budgetUsd?: number;
  /**
   * A session token of scope CLIENT (the operator's tools, such as the dashboard): it acts with
   * its client's own rights, admin when the client is, and sees the client's whole usage.
   */
  scope?: 'client';
}

/** The answer of `gateway.complete`. */
export interface Completion extends ChatResponse {
  id: string;
  provider: string;
  costUsd: number;
  cached: boolean;
  /** Set on a semantic cache hit only. */
  semantic?: SemanticHit;
  latencyMs: number;
  attempts: Attempt[];
}

/** One element of `gateway.stream`. */
export interface CompletionChunk {
  id: string;
  delta: string;
  provider: string;
  model: string;
  cached: boolean;
  done: boolean;
  finishReason?: FinishReason;
  toolCalls?: ToolCall[];
  usage?: Usage;
  costUsd?: number;
  /** Set on every chunk of a semantic cache hit's replay. */
  semantic?: SemanticHit;
}

export interface EmbeddingRequest {
  /** As the client called it: an alias or `provider/model`. */
  model: string;
  input: string[];
  dimensions?: number;
  user?: string;
  /** The edge it came in by; `embeddings` or `graphql`. */
  route?: Route;
}

export interface Embeddings {
  id: string;
  provider: string;
  model: string;
  embeddings: number[][];
  usage: Usage;
  costUsd: number;
  latencyMs: number;
  attempts: Attempt[];
}

/** What the exact cache keeps of an answer. */
export interface CachedAnswer {
  provider: string;
  response: ChatResponse;
  /** What the answer cost when it was made: a hit saves that much. */
  costUsd: number;
  /** Set when the answer was found by meaning (never stored). */
  semantic?: SemanticHit;
}

/** One finished or failed request, as the accountant records it (usage row, log line, metrics). */
export interface Outcome {
  requestId: string;
  caller: Caller;
  /** The edge it came in by. */
  route: Route;
  /** The model as called. */
  alias: string;
  request: ChatRequest | undefined;
  stream: boolean;
  provider: string | null;
  model: string | null;
  usage: Usage | null;
  costUsd: number;
  priced: boolean;
  savedUsd: number;
  cacheHit: boolean;
  /** On a cache hit: how it was found; null otherwise. */
  cacheKind: CacheKind | null;
  /** On a semantic hit: the similarity; null otherwise. */
  similarity: number | null;
  content: string | null;
  /** The answer's tool calls (none for an error or an embedding). */
  toolCalls: readonly ToolCall[];
  /** Why the answer ended; null when there was none (an error, an embedding, a cut stream). */
  finishReason: FinishReason | null;
  error: unknown;
  latencyMs: number;
  ttftMs: number | null;
  attempts: readonly Attempt[];
  /** The request's trace id when tracing is on (`src/telemetry/`), for its log line. */
  traceId?: string | undefined;
}
