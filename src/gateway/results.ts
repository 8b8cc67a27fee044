/**
 * What the pipeline builds per request: the answers the edges get (`Completion`, `Embeddings`),
 * the `Outcome` the accountant records, and the request as sent upstream.
 *
 * Objects are written out field by field here, not spread: in this V8 (Node 20) a literal that
 * spreads an object and then adds fields, `{ ...a, b }`, costs about 400 ns per added field
 * (bench/pipeline.ts showed ~5 µs per request in such spreads); listing the fields costs ~10 ns.
 * The one spread left, in `upstreamRequest`, runs only for a request whose budget lowers its
 * answer's ceiling.
 */
import type {
  Attempt,
  Caller,
  ChatRequest,
  ChatResponse,
  Completion,
  Embeddings,
  Outcome,
  Route,
  Usage,
} from './types.js';
import type { TurnTrace } from '../telemetry/spans.js';

/** Whose request an Outcome is. */
export interface Subject {
  requestId: string;
  caller: Caller;
  /** The model as called. */
  alias: string;
  /** The edge it came in by; `graphql` when unset. */
  edge: Route | undefined;
  /** The request, when it got as far as being read; its `user` is the record's. */
  request: ChatRequest | undefined;
  /** False: the record carries no request (an embedding's input is no prompt to log). */
  bodies: boolean;
  /** The request's trace when tracing is on. */
  trace: TurnTrace | undefined;
}

/** One request's Outcome: `fields` over the defaults of a request that reached no provider. */
export function outcomeOf(s: Subject, stream: boolean, fields: Partial<Outcome>): Outcome {
  const user = s.request?.user;
  return {
    requestId: s.requestId,
    caller: user ? withUser(s.caller, user) : s.caller,
    route: s.edge ?? 'graphql',
    alias: s.alias,
    request: s.bodies ? s.request : undefined,
    stream,
    provider: fields.provider ?? null,
    model: fields.model ?? null,
    usage: fields.usage ?? null,
    costUsd: fields.costUsd ?? 0,
    priced: fields.priced ?? true,
    savedUsd: fields.savedUsd ?? 0,
    cacheHit: fields.cacheHit ?? false,
    cacheKind: fields.cacheKind ?? null,
    similarity: fields.similarity ?? null,
    content: fields.content ?? null,
    toolCalls: fields.toolCalls ?? [],
    finishReason: fields.finishReason ?? null,
    error: fields.error === undefined ? null : fields.error,
    latencyMs: fields.latencyMs ?? 0,
    ttftMs: fields.ttftMs ?? null,
    attempts: fields.attempts ?? [],
    traceId: s.trace?.owner.traceId,
  };
}

/**
 * The request as sent upstream: with the answer's ceiling a budget pays for, when it sets one.
 * The client's own request stays as it was, for the cache key and the usage record.
 */
export function upstreamRequest(request: ChatRequest, maxTokens: number | undefined): ChatRequest {
  return maxTokens === undefined || maxTokens === request.maxTokens
    ? request
    : { ...request, maxTokens };
}

export function completionOf(
  response: ChatResponse,
  id: string,
  provider: string,
  costUsd: number,
  cached: boolean,
  latencyMs: number,
  attempts: Attempt[],
): Completion {
  return {
    model: response.model,
    content: response.content,
    toolCalls: response.toolCalls,
    finishReason: response.finishReason,
    usage: response.usage,
    id,
    provider,
    costUsd,
    cached,
    latencyMs,
    attempts,
  };
}

export function embeddingsOf(
  result: { model: string; embeddings: number[][]; usage: Usage },
  id: string,
  provider: string,
  costUsd: number,
  latencyMs: number,
  attempts: Attempt[],
): Embeddings {
  return {
    id,
    provider,
    costUsd,
    latencyMs,
    attempts,
    model: result.model,
    embeddings: result.embeddings,
    usage: result.usage,
  };
}

export function withUser(caller: Caller, user: string): Caller {
  return caller.models
    ? { clientId: caller.clientId, admin: caller.admin, models: caller.models, user }
    : { clientId: caller.clientId, admin: caller.admin, user };
}
