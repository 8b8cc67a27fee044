/**
 * The span of an HTTP request (`/graphql`, `/v1/…`): started by the server before routing, a
 * child of the request's `traceparent` header, its trace id answered in `x-conduit-trace-id`
 * (so a front end can link to the trace), ended when the response closes. The edges' Cancel
 * (`http/client-gone.ts`) picks it up from the response, and the gateway from the Cancel.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes } from '@opentelemetry/api';
import { addToHead } from '../http/head.js';
import type { RequestSpan } from './spans.js';
import type { Tracing } from './tracing.js';

export const traceIdHeader = 'x-conduit-trace-id';

const spanKey = Symbol('conduit.requestSpan');
type Traced = { [spanKey]?: RequestSpan };

/** Starts the request's span and answers its trace id; it ends when the response closes. */
export function traceHttp(
  tracing: Tracing,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): RequestSpan {
  const route = routeOf(path);
  const method = req.method ?? 'GET';
  // Few attributes: each one is paid for again when the span is exported.
  const attributes: Attributes = { 'http.request.method': method, 'http.route': route };
  if (route !== path) attributes['url.path'] = path;
  const span = tracing.startRequest(
    { name: `${method} ${route}`, attributes },
    req.headers.traceparent,
    req.headers.tracestate,
  );
  // Written with the edge's head (`withHead`), not set ahead of it.
  addToHead(res, traceIdHeader, span.traceId);
  (res as Traced)[spanKey] = span;
  res.once('close', () => span.end(res.statusCode));
  return span;
}

/** The span `traceHttp` started for this response; undefined when tracing is off. */
export function spanOf(res: object): RequestSpan | undefined {
  return (res as Traced)[spanKey];
}

/** The route template of a path (ids left out: a span name groups requests). */
function routeOf(path: string): string {
  if (path.startsWith('/v1/responses/')) return '/v1/responses/{id}';
  if (path.startsWith('/v1/models/')) return '/v1/models/{model}';
  return path;
}
