/**
 * The spans of one request, passed along explicitly (never through a context manager):
 * - `RequestSpan`, the server span of an HTTP request or a WebSocket operation, started by the
 *   edge and carried to the gateway on the request's `Cancel` (`cancel.span`);
 * - `TurnTrace`, one gateway request under it (a GraphQL document may run several): cache and
 *   limit decisions as events on the request span, failures recorded on it;
 * - `TrySpan`, a client span per upstream try (each key, each retry, each fallback target) with
 *   the GenAI attributes (`genai.ts`). The try that answered stays open until its answer is
 *   accounted (a stream's usage comes at its end).
 */
import {
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { ChatRequest, FinishReason, Target, Usage } from '../gateway/types.js';
import type { ProviderType } from '../providers/provider-types.js';
import { GenAI, finishReasonOf, inputMessages, outputMessages, systemOf } from './genai.js';

export interface RequestSpanStart {
  name: string;
  attributes: Attributes;
}

/** What a failure shows on a span: its message (already masked), its kind or code. */
interface Failure {
  message?: string;
  name?: string;
  code?: string;
  kind?: string;
  status?: number;
}

export class RequestSpan {
  readonly span: Span;
  readonly traceId: string;
  /** The context child spans start in: this span's. */
  readonly context: Context;
  /**
   * False when the sampler left this request out (an unsampled `traceparent`, a ratio): then
   * nothing below it is recorded, and the turns skip their events and tries altogether (their
   * spans would record nothing either, and Conduit does not pass the context on upstream).
   */
  readonly recording: boolean;
  /** Tries still open (an answer not yet accounted): ended with the request at the latest. */
  readonly open = new Set<Span>();
  #ended = false;
  #named = false;

  constructor(
    readonly tracer: Tracer,
    start: RequestSpanStart,
    parent: Context,
    readonly captureContent: boolean,
  ) {
    this.span = tracer.startSpan(
      start.name,
      { kind: SpanKind.SERVER, attributes: start.attributes },
      parent,
    );
    this.traceId = this.span.spanContext().traceId;
    this.recording = this.span.isRecording();
    this.context = this.recording ? trace.setSpan(parent, this.span) : parent;
  }

  /** The GraphQL operation this request runs: the span is named after it. */
  operation(type: string, name: string | null | undefined): void {
    if (!this.recording) return;
    this.span.setAttribute('graphql.operation.type', type);
    if (name) this.span.setAttribute('graphql.operation.name', name);
    this.span.updateName(name ? `${type} ${name}` : type);
  }

  set(key: string, value: AttributeValue): void {
    if (this.recording) this.span.setAttribute(key, value);
  }

  /**
   * One gateway request under this span. The span names the first one's id (a GraphQL document
   * may run several; each try names its own).
   */
  turn(requestId: string, clientId: string, operation: 'chat' | 'embeddings'): TurnTrace {
    if (!this.#named && this.recording) {
      this.#named = true;
      this.span.setAttribute('conduit.request_id', requestId);
      this.span.setAttribute('conduit.client_id', clientId);
    }
    return new TurnTrace(this, requestId, operation);
  }

  /** Ends the span (once): an HTTP status of 500 or more marks it failed. */
  end(statusCode?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const open of this.open) open.end();
    this.open.clear();
    if (statusCode !== undefined && this.recording) {
      this.span.setAttribute('http.response.status_code', statusCode);
      if (statusCode >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}

export class TurnTrace {
  #answering: Span | undefined;

  constructor(
    readonly owner: RequestSpan,
    readonly requestId: string,
    readonly operation: 'chat' | 'embeddings',
  ) {}

  /** A decision (cache, limits, circuit) as an event on the request span. */
  event(name: string, attributes?: Attributes): void {
    if (this.owner.recording) this.owner.span.addEvent(name, attributes);
  }

  /** Rate limits and budget let the request in (with the answer's ceiling a budget pays for). */
  admitted(maxTokens: number | undefined): void {
    if (!this.owner.recording) return;
    this.owner.span.addEvent(
      'conduit.limits.admitted',
      maxTokens === undefined ? undefined : { 'conduit.limits.max_tokens': maxTokens },
    );
  }

  /** A cache look-up: `hit`, `miss`, or why there was none (`bypass`, `refresh`, `off`). */
  cache(kind: 'exact' | 'semantic', result: string, similarity?: number): void {
    if (!this.owner.recording) return;
    const attributes: Attributes = { 'conduit.cache.kind': kind, 'conduit.cache.result': result };
    if (similarity !== undefined) attributes['conduit.cache.similarity'] = similarity;
    this.owner.span.addEvent('conduit.cache.lookup', attributes);
  }

  /**
   * A client span for one try of `target` (with the key of `keyIndex` of its pool); none when
   * the request is not recorded.
   */
  startTry(
    type: ProviderType,
    target: Target,
    request: ChatRequest,
    keyIndex: number | undefined,
  ): TrySpan | undefined {
    if (!this.owner.recording) return undefined;
    const attributes: Attributes = {
      [GenAI.operation]: this.operation,
      [GenAI.system]: systemOf(type),
      [GenAI.requestModel]: target.model,
      'conduit.provider': target.provider,
      'conduit.request_id': this.requestId,
    };
    if (keyIndex !== undefined) attributes['conduit.key_index'] = keyIndex;
    if (request.maxTokens !== undefined) attributes[GenAI.maxTokens] = request.maxTokens;
    if (request.temperature !== undefined) attributes[GenAI.temperature] = request.temperature;
    if (request.topP !== undefined) attributes[GenAI.topP] = request.topP;
    if (this.owner.captureContent)
      attributes[GenAI.inputMessages] = inputMessages(request.messages);
    const span = this.owner.tracer.startSpan(
      `${this.operation} ${target.model}`,
      { kind: SpanKind.CLIENT, attributes },
      this.owner.context,
    );
    return new TrySpan(this, span);
  }

  /** @internal The try answered: it stays open until `answered`. */
  answering(span: Span): void {
    this.#answering = span;
    this.owner.open.add(span);
  }

  /** The answer of the try that answered, accounted: its model, usage and finish reason. */
  answered(answer: {
    model: string;
    usage: Usage;
    content: string | null;
    finishReason?: FinishReason;
  }): void {
    const span = this.#answering;
    if (!span) return;
    this.#answering = undefined;
    this.owner.open.delete(span);
    span.setAttribute(GenAI.responseModel, answer.model);
    span.setAttribute(GenAI.inputTokens, answer.usage.promptTokens);
    span.setAttribute(GenAI.outputTokens, answer.usage.completionTokens);
    if (answer.finishReason !== undefined)
      span.setAttribute(GenAI.finishReasons, [finishReasonOf(answer.finishReason)]);
    if (this.owner.captureContent && this.operation === 'chat')
      span.setAttribute(GenAI.outputMessages, outputMessages(answer.content, answer.finishReason));
    span.end();
  }

  /** The request failed (before, during or after its tries): recorded on the request span. */
  failed(error: unknown): void {
    if (!this.owner.recording) return;
    const code = (error as Failure | null)?.code;
    if (code === 'RATE_LIMITED' || code === 'BUDGET_EXCEEDED')
      this.owner.span.addEvent('conduit.limits.refused', { 'conduit.limits.code': code });
    const span = this.#answering;
    if (span) {
      this.#answering = undefined;
      this.owner.open.delete(span);
      markFailed(span, error);
      span.end();
    }
    markFailed(this.owner.span, error);
  }
}

export class TrySpan {
  constructor(
    readonly turn: TurnTrace,
    readonly span: Span,
  ) {}

  /** The try answered (its answer is accounted later: `TurnTrace.answered`). */
  succeeded(): void {
    this.turn.answering(this.span);
  }

  /** The try failed: a 429, a 5xx, a timeout… (the message is already masked). */
  failed(error: unknown): void {
    markFailed(this.span, error);
    this.span.end();
  }
}

/** The error on `span`: status, `error.type`, and the exception event (message masked). */
function markFailed(span: Span, error: unknown): void {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as Failure;
  const message = failure.message ?? String(error);
  const type = failure.code ?? failure.kind ?? failure.name ?? 'Error';
  span.setAttribute('error.type', type);
  if (typeof failure.status === 'number')
    span.setAttribute('http.response.status_code', failure.status);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  // No stack: it says where in Conduit, not what went wrong; the message is what was masked.
  span.addEvent('exception', { 'exception.type': type, 'exception.message': message });
}
