/**
 * The span of a GraphQL operation over WebSocket: a child of the `traceparent` the client put
 * in its `connectionParams` (or in the operation's `extensions`, which wins), named after the
 * operation, ended when the operation completes or its connection closes.
 */
import type { OperationDefinitionNode } from 'graphql';
import type { Cancel } from '../gateway/cancel.js';
import type { RequestSpan } from './spans.js';
import type { Tracing } from './tracing.js';

/** Starts the operation's span on `cancel` (aborting it ends the span). */
export function traceOperation(
  tracing: Tracing,
  cancel: Cancel,
  operation: OperationDefinitionNode,
  connectionParams: Readonly<Record<string, unknown>> | undefined,
  extensions: Readonly<Record<string, unknown>> | null | undefined,
): RequestSpan {
  const own = extensions?.traceparent !== undefined;
  const carrier = own ? extensions : connectionParams;
  const span = tracing.startRequest(
    {
      name: 'graphql',
      attributes: { 'network.protocol.name': 'websocket', 'url.path': '/graphql' },
    },
    carrier?.traceparent,
    carrier?.tracestate,
  );
  span.operation(operation.operation, operation.name?.value);
  cancel.span = span;
  cancel.once('abort', () => span.end());
  return span;
}
