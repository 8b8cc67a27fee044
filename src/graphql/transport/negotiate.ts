/**
 * The content negotiation of GraphQL over HTTP as Yoga does it, for the requests the transport
 * answers itself (test/graphql/negotiate.test.ts holds it against Yoga's own answers): which
 * POSTs it takes, and whether the answer is one JSON body (of which media type) or a stream of
 * server-sent events. Everything else goes to Yoga.
 */
import type { IncomingMessage } from 'node:http';

const regularTypes = ['application/graphql-response+json', 'application/json'] as const;
export type RegularType = (typeof regularTypes)[number];

/** How the answer goes out: one JSON body (of this media type), or server-sent events. */
export type Mode = RegularType | 'sse';

const matches = (asked: string, offered: string) => {
  const [askedType, askedSub] = asked.split('/');
  const [type, sub] = offered.split('/');
  return (type === '*' || type === askedType) && (sub === '*' || sub === askedSub);
};

/**
 * The media type Yoga's result processors pick for a query or mutation result, or undefined
 * when Yoga would pick none (406) or stream. Mirrors Yoga's `useResultProcessors`: the first
 * type in the Accept header that either JSON type matches wins, `application/json` on a tie.
 */
export function negotiate(accept: string | undefined): RegularType | undefined {
  // A client sends the same header every time: its answer is remembered (a few hundred kept).
  const key = accept ?? '';
  const known = negotiated.get(key);
  if (known !== undefined) return known || undefined;
  if (negotiated.size >= 256) negotiated.clear();
  const chosen = choose(accept);
  negotiated.set(key, chosen ?? '');
  return chosen;
}

/** Accept headers seen, and their media type ('' for none). */
const negotiated = new Map<string, RegularType | ''>();

function choose(accept: string | undefined): RegularType | undefined {
  const asked = (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',');
  for (const entry of asked) {
    const [type = '', ...params] = entry.split(';');
    const charset = params.find((param) => param.includes('charset=')) ?? 'charset=utf-8';
    if (charset !== 'charset=utf-8') continue;
    let chosen: RegularType | undefined;
    for (const offered of regularTypes) if (matches(offered, type)) chosen = offered;
    if (chosen) return chosen;
  }
  return undefined;
}

/**
 * The mode of a plain JSON POST to `/graphql` the transport may answer itself (decided on
 * headers only), or undefined: Yoga answers.
 */
export function modeOf(req: IncomingMessage): Mode | undefined {
  if (req.method !== 'POST' || req.url !== '/graphql') return undefined;
  const type = req.headers['content-type']?.split(',', 1)[0];
  if (type !== 'application/json' && !type?.startsWith('application/json;')) return undefined;
  // A CORS preflight's headers on a POST are unusual: Yoga's CORS plugin handles those.
  if (req.headers['access-control-request-method'] || req.headers['access-control-request-headers'])
    return undefined;
  if (req.headers.accept?.trim().toLowerCase() === 'text/event-stream') return 'sse';
  return negotiate(req.headers.accept);
}

export interface OperationParams {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
  extensions?: Record<string, unknown> | null;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const known = new Set(['query', 'variables', 'operationName', 'extensions']);

/** The body as GraphQL parameters when they are exactly what Yoga accepts; else undefined. */
export function paramsOf(body: Buffer): OperationParams | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || typeof parsed.query !== 'string') return undefined;
  for (const key in parsed) if (parsed[key] != null && !known.has(key)) return undefined;
  const { query, variables, operationName, extensions } = parsed;
  if (variables != null && !isObject(variables)) return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  if (extensions != null && !isObject(extensions)) return undefined;
  return { query, variables, operationName, extensions };
}
