/**
 * W3C Trace Context: the parent a request names in its `traceparent` (HTTP header, or a
 * WebSocket's `connectionParams.traceparent`), as the context its span is started in. A value
 * that is not a valid `traceparent` is ignored (the span starts a new trace), as the spec says.
 *
 * @see https://www.w3.org/TR/trace-context/#traceparent-header
 */
import {
  ROOT_CONTEXT,
  createTraceState,
  trace,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';

const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The context `traceparent` (and `tracestate`) name; the root context when there is none. */
export function parentContext(traceparent: unknown, tracestate?: unknown): Context {
  if (typeof traceparent !== 'string') return ROOT_CONTEXT;
  const match = traceparentPattern.exec(traceparent.trim());
  // Version ff is invalid; version 00 has nothing after the flags.
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined))
    return ROOT_CONTEXT;
  const spanContext: SpanContext = {
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: parseInt(match[4]!, 16) & 1,
    isRemote: true,
  };
  if (typeof tracestate === 'string' && tracestate !== '')
    spanContext.traceState = createTraceState(tracestate);
  // The pattern checked the hex; all zeros is the one invalid id left.
  if (/^0+$/.test(spanContext.traceId) || /^0+$/.test(spanContext.spanId)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, spanContext);
}
