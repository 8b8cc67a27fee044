/**
 * CORS for every route that serves browsers (`/graphql` and `/v1/*`), from one list of allowed
 * origins (`server.cors.origins`). A request from an allowed origin gets that origin back, with
 * credentials and `vary: Origin`; any other origin gets no CORS headers at all, so the browser
 * keeps the answer from the page. With no origins configured nothing is allowed cross-origin.
 *
 * The GraphQL transport (`graphql/transport/http.ts`) and REST write these headers themselves;
 * Yoga (everything else on `/graphql`, preflights included) gets the same answer through its
 * `cors` option (`yogaOptions`), so the two never disagree.
 *
 * @see https://fetch.spec.whatwg.org/#http-cors-protocol
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CORSOptions } from 'graphql-yoga';
import { addToHead } from './head.js';

/** What a preflight may ask for besides what it names itself. */
const methods = ['GET', 'POST', 'OPTIONS'];
const allowedHeaders = [
  'authorization',
  'content-type',
  'accept',
  'x-conduit-cache',
  'x-conduit-cache-min-similarity',
  // W3C Trace Context: a page's trace continues through Conduit (docs/telemetry.md).
  'traceparent',
  'tracestate',
  // What the Anthropic SDK sends from a page (`dangerouslyAllowBrowser`), to /v1/messages.
  'x-api-key',
  'anthropic-version',
  'anthropic-beta',
  'anthropic-dangerous-direct-browser-access',
];
/** Headers a page may read from an answer: ids, who answered, and when to retry. */
const exposedHeaders = [
  'x-request-id',
  // Anthropic's name for it, which its SDK reads (`/v1/messages`).
  'request-id',
  'x-conduit-provider',
  'x-conduit-cache',
  'x-conduit-cache-similarity',
  'retry-after',
  'x-should-retry',
  'x-conduit-trace-id',
];
/** How long a browser may keep a preflight's answer. */
const maxAgeSeconds = 600;

export interface Cors {
  /**
   * The CORS headers for an answer to `req`, in a fresh object the caller may add to; empty
   * when it has no Origin or one not allowed.
   */
  headers(req: IncomingMessage): Record<string, string>;
  /** Holds the headers for the head `res` is written with (`withHead`). */
  apply(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Answers a preflight (OPTIONS with an Origin): 204 with its CORS headers when the origin is
   * allowed, else 403 with none; false for any other request.
   */
  preflight(req: IncomingMessage, res: ServerResponse): boolean;
  /** Yoga's `cors` option: the same headers for the requests Yoga answers. */
  yogaOptions(request: Request): CORSOptions;
}

/**
 * `origins` may be a function giving the set in force now: the server's list plus every
 * client's own `origins` (which a reload may change; `access/origins.ts`).
 */
export function createCors(origins: readonly string[] | (() => ReadonlySet<string>)): Cors {
  const fixed = typeof origins === 'function' ? undefined : new Set(origins);
  const current = typeof origins === 'function' ? origins : () => fixed!;
  const originOf = (req: IncomingMessage): string | undefined => {
    const origin = req.headers.origin;
    return origin !== undefined && current().has(origin) ? origin : undefined;
  };

  /** Mirrors what Yoga writes for `yogaOptions` (whatwg-node's getCORSHeadersByRequestAndOptions). */
  const headersFor = (
    origin: string,
    preflight: boolean,
    asked: string | undefined,
  ): Record<string, string> => {
    const headers: Record<string, string> = {
      'access-control-allow-origin': origin,
      vary: 'Origin',
    };
    if (preflight) {
      headers['access-control-allow-methods'] = methods.join(', ');
      headers['access-control-allow-headers'] = allowedHeadersFor(asked).join(', ');
    }
    headers['access-control-allow-credentials'] = 'true';
    headers['access-control-expose-headers'] = exposedHeaders.join(', ');
    if (preflight) headers['access-control-max-age'] = String(maxAgeSeconds);
    return headers;
  };

  return {
    headers(req) {
      const origin = current().size === 0 ? undefined : originOf(req);
      return origin === undefined ? {} : headersFor(origin, false, undefined);
    },
    apply(req, res) {
      const origin = current().size === 0 ? undefined : originOf(req);
      if (origin === undefined) return;
      for (const [name, value] of Object.entries(headersFor(origin, false, undefined)))
        addToHead(res, name, value);
    },
    preflight(req, res) {
      if (req.method !== 'OPTIONS' || req.headers.origin === undefined) return false;
      const origin = originOf(req);
      const asked = req.headers['access-control-request-headers'];
      const headers = origin === undefined ? {} : headersFor(origin, true, asked);
      headers['content-length'] = '0';
      res.writeHead(origin === undefined ? 403 : 204, headers);
      res.end();
      return true;
    },
    yogaOptions(request) {
      const origin = request.headers.get('origin');
      if (origin === null || !current().has(origin)) return false;
      const preflight = request.method === 'OPTIONS';
      // `origin` left out: Yoga then answers with the request's own origin and `vary: Origin`.
      return {
        credentials: true,
        exposedHeaders,
        ...(preflight && {
          methods,
          allowedHeaders: allowedHeadersFor(
            request.headers.get('access-control-request-headers') ?? undefined,
          ),
          maxAge: maxAgeSeconds,
        }),
      };
    },
  };
}

/**
 * The headers a preflight may allow: ours, and whatever else the page asked for (the origin is
 * trusted; its client library may send headers of its own).
 */
function allowedHeadersFor(asked: string | undefined): string[] {
  if (!asked) return allowedHeaders;
  const more = asked
    .toLowerCase()
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '' && !allowedHeaders.includes(name));
  return more.length === 0 ? allowedHeaders : [...allowedHeaders, ...more];
}
