/**
 * The shapes of the request log: an entry as queued (references only, taken on the request's
 * path), the bodies as stored, and an entry as read back.
 */
import type { FinishReason, Outcome, ToolCall } from '../gateway/types.js';
import type { UsageRecord } from '../usage/store-types.js';

export type CacheStatus = 'miss' | 'exact' | 'semantic';
export const CacheStatuses = ['miss', 'exact', 'semantic'] as const;

/** How bodies are made fit for storage; one per config (reloads make new ones). */
export interface BodyPolicy {
  /** Secrets, credential-shaped strings and the `requestLog.redact` patterns, replaced. */
  mask(text: string): string;
  maxBodyBytes: number;
}

/** What the request path queues: the usage record and the outcome it came from, by reference. */
export interface QueuedEntry {
  record: UsageRecord;
  outcome: Outcome;
  /** Null: the bodies were dropped (the store lagged). */
  policy: BodyPolicy | null;
}

/** The parts of a body that may be cut to `maxBodyBytes`. */
export type BodyPart = 'prompt' | 'parameters' | 'answer' | 'toolCalls';

/** What `body` holds, deflated: each text already redacted and capped. */
export interface StoredBodies {
  /** The messages, as JSON. */
  prompt: string | null;
  /** The request's parameters (temperature, maxTokens, tools…), as JSON. */
  parameters: string | null;
  /** The answer's text. */
  answer: string | null;
  toolCalls: ToolCall[];
  /** The parts cut to `maxBodyBytes`. */
  truncated: BodyPart[];
}

export interface LoggedAttempt {
  provider: string;
  model: string;
  status: 'ok' | 'error';
  /** The kind of failure (rate_limited, timeout, server…); null when it succeeded. */
  errorKind: string | null;
  error: string | null;
  latencyMs: number;
}

/** One logged request, without its bodies (`RequestLogStore.bodies` reads those). */
export interface LoggedRequest {
  /** The log's own order: larger is newer. */
  seq: number;
  id: string;
  time: Date;
  clientId: string;
  user: string | null;
  alias: string;
  provider: string | null;
  model: string | null;
  route: string;
  status: 'ok' | 'error';
  errorCode: string | null;
  cacheStatus: CacheStatus;
  stream: boolean;
  latencyMs: number;
  ttftMs: number | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  estimated: boolean;
  costUsd: number;
  savedUsd: number;
  finishReason: FinishReason | null;
  attempts: LoggedAttempt[];
  /** True when the store lagged and kept this entry without its bodies. */
  bodiesDropped: boolean;
}

export interface RequestLogFilter {
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  clientId?: string;
  user?: string;
  /** The upstream model or the model as called (an alias). */
  model?: string;
  provider?: string;
  status?: 'ok' | 'error';
  cacheStatus?: CacheStatus;
  /** Words that must all appear in the prompt or the answer. */
  text?: string;
}
