/**
 * Headers decided before an edge writes its head (the trace id of a traced request, the CORS
 * headers of a browser's `/v1` request), kept on the response until then: every head an edge
 * writes goes through `withHead`, which adds them.
 *
 * Not `res.setHeader`: a header set ahead sends node's `writeHead(status, headers)` down its slow
 * path, where every header the edge writes is set and checked again one by one; on a traced
 * request that cost more than its span (`bench/tracing-turns.ts`, docs/benchmarks.md).
 */
import type { ServerResponse } from 'node:http';

const headKey = Symbol('conduit.head');
type Held = { [headKey]?: Record<string, string> };

/** Holds the header `name` for the head `res` will be written with. */
export function addToHead(res: ServerResponse, name: string, value: string): void {
  const held = (res as Held)[headKey];
  if (held === undefined) (res as Held)[headKey] = { [name]: value };
  else held[name] = value;
}

/** Forgets the held headers whose names start with `prefix` (a refused origin's CORS headers). */
export function dropFromHead(res: ServerResponse, prefix: string): void {
  const held = (res as Held)[headKey];
  if (held === undefined) return;
  for (const name of Object.keys(held)) if (name.startsWith(prefix)) delete held[name];
}

/** `headers` with those held for `res` (they win over the edge's own): the head to write. */
export function withHead<T extends Record<string, string | number | readonly string[]>>(
  res: ServerResponse,
  headers: T,
): T {
  const held = (res as Held)[headKey];
  if (held !== undefined) Object.assign(headers, held);
  return headers;
}
