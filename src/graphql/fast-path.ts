/**
 * A fast path for the common GraphQL requests: `POST /graphql` with `content-type:
 * application/json`, one query or mutation answered as JSON, or one subscription answered as
 * server-sent events (`Accept: text/event-stream`, what graphql-sse clients send). It skips
 * Yoga's WHATWG Request/Response adaptation (most of Yoga's cost per request, see
 * ARCHITECTURE.md "Where the time goes"; for a subscription, a Web stream and a socket write
 * per event) but runs the operation through Yoga's own envelop (`yoga.getEnveloped`): the same
 * parse and validation caches, masked errors, depth limit and error codes, and Yoga's own
 * serializer (`processRegularResult`: status codes, content type, internals stripped), writing
 * Yoga's own SSE frames.
 *
 * GET, HEAD and OPTIONS (GraphiQL, CORS preflights) go to Yoga's handler untouched. Every other
 * request's body is read here, bounded by `server.maxBodyBytes` (413 past it, `http/body.ts`),
 * and whatever the fast path does not take (multipart, other content types, query strings, and
 * anything unusual found in the body: bad JSON, batches, unknown parameters, parse or
 * validation errors, a subscription asked as JSON, a query asked as SSE, a context that refuses
 * the caller: a 401) Yoga answers from the buffered body, so every error answer is Yoga's own
 * and Yoga never reads a body of unbounded size.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  getOperationAST,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLError,
} from 'graphql';
import {
  createGraphQLError,
  getSSEProcessor,
  isAsyncIterable,
  processRegularResult,
} from 'graphql-yoga';
import { pipeline } from 'node:stream/promises';
import { cancelWhenGone } from '../gateway/cancel.js';
import { readBody, tooLarge } from '../http/body.js';
import type { Cors } from '../http/cors.js';
import { maskError } from './errors.js';
import type { ConduitYoga } from './yoga.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface FastPathOptions {
  /** The largest body read (`server.maxBodyBytes`); a larger one gets 413, unread. */
  maxBodyBytes: number;
  /** Who may call cross-origin (`server.cors`): the same answer Yoga's `cors` option gives. */
  cors: Cors;
}

const regularTypes = ['application/graphql-response+json', 'application/json'] as const;
type RegularType = (typeof regularTypes)[number];

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

/** How the answer goes out: one JSON body (of this media type), or server-sent events. */
type Mode = RegularType | 'sse';

/** Whether the request is a plain JSON POST the fast path may take (decided on headers only). */
function eligible(req: IncomingMessage): Mode | undefined {
  if (req.method !== 'POST' || req.url !== '/graphql') return undefined;
  const type = req.headers['content-type']?.split(',', 1)[0];
  if (type !== 'application/json' && !type?.startsWith('application/json;')) return undefined;
  // A CORS preflight's headers on a POST are unusual: Yoga's CORS plugin handles those.
  if (req.headers['access-control-request-method'] || req.headers['access-control-request-headers'])
    return undefined;
  if (req.headers.accept?.trim().toLowerCase() === 'text/event-stream') return 'sse';
  return negotiate(req.headers.accept);
}

interface Params {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
  extensions?: Record<string, unknown> | null;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const known = new Set(['query', 'variables', 'operationName', 'extensions']);

/** The body as GraphQL parameters when they are exactly what Yoga accepts; else undefined. */
function toParams(body: Buffer): Params | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || typeof parsed.query !== 'string') return undefined;
  for (const key in parsed) if (parsed[key] != null && !known.has(key)) return undefined;
  const { variables, operationName, extensions } = parsed;
  if (variables != null && !isObject(variables)) return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  if (extensions != null && !isObject(extensions)) return undefined;
  return parsed as unknown as Params;
}

/**
 * What `request` the context sees: the headers, and a signal aborted when the client leaves,
 * with its Cancel, which the gateway then uses as the request's own (one, not two).
 */
function requestOf(req: IncomingMessage, res: ServerResponse): Request {
  const cancel = cancelWhenGone(res);
  const headers = {
    get: (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
    has: (name: string) => req.headers[name.toLowerCase()] !== undefined,
  };
  return {
    method: 'POST',
    url: req.url,
    headers,
    // Made when read: the gateway takes the Cancel, and a signal costs more than it.
    get signal() {
      return cancel.native;
    },
    cancel,
  } as unknown as Request;
}

/** A stand-in for the Fetch API's Response: `processRegularResult` only constructs one. */
class Captured {
  constructor(
    readonly body: string | null,
    readonly init: { status: number; headers: Record<string, string> },
  ) {}
}
const capture = { Response: Captured } as unknown as Parameters<typeof processRegularResult>[1];

export function createGraphQLFastPath(yoga: ConduitYoga, options: FastPathOptions): Handler {
  const { maxBodyBytes, cors } = options;

  /**
   * Yoga's answer to a request whose body was already read (bounded: Yoga never reads a body
   * itself). A streamed answer (SSE, multipart) is written as it comes and stops when the
   * client leaves; any other is written in one piece.
   */
  async function replay(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await yoga.fetch(
      `http://${req.headers.host ?? 'localhost'}${req.url}`,
      {
        method: req.method,
        headers,
        body: new Uint8Array(body.buffer, body.byteOffset, body.length),
        signal: cancelWhenGone(res).native,
      } as RequestInit,
      {},
    );
    // Yoga's Headers may keep the case they were written in.
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => (out[name.toLowerCase()] = value));
    const type = out['content-type'] ?? '';
    if (response.body && (type.startsWith('text/event-stream') || type.startsWith('multipart/'))) {
      res.writeHead(response.status, out);
      // The client leaving ends the pipeline early: Yoga's stream is cancelled, nothing to report.
      await pipeline(response.body as unknown as AsyncIterable<Uint8Array>, res).catch(() => {});
      return;
    }
    const answer = Buffer.from(await response.arrayBuffer());
    out['content-length'] = String(answer.length);
    res.writeHead(response.status, out);
    res.end(answer);
  }

  /** 413 as a GraphQL-over-HTTP request error; the connection closes, the rest unread. */
  function refuseTooLarge(req: IncomingMessage, res: ServerResponse): void {
    const text = JSON.stringify({
      errors: [{ message: `the request body is larger than ${maxBodyBytes} bytes` }],
    });
    const headers = cors.headers(req);
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(text));
    headers.connection = 'close';
    res.writeHead(413, headers);
    res.end(text);
  }

  function send(
    req: IncomingMessage,
    res: ServerResponse,
    result: ExecutionResult,
    type: RegularType,
  ): void {
    const { body, init } = processRegularResult(result, capture, type) as unknown as Captured;
    const text = body ?? '';
    const headers: Record<string, string> = cors.headers(req);
    for (const [name, value] of Object.entries(init.headers)) headers[name.toLowerCase()] = value;
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(init.status, headers);
    res.end(text);
  }

  return async (req, res) => {
    const method = req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') {
      // Bodiless: Yoga reads none. One that says it is too large is refused all the same.
      if (Number(req.headers['content-length']) > maxBodyBytes) return refuseTooLarge(req, res);
      return yoga(req, res);
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === tooLarge) return refuseTooLarge(req, res);
    const type = eligible(req);
    if (!type) return replay(req, res, body);
    const params = toParams(body);
    if (!params) return replay(req, res, body);

    const request = requestOf(req, res);
    const enveloped = yoga.getEnveloped({ req, res, request, params });
    let document: DocumentNode | Error;
    try {
      document = enveloped.parse(params.query);
    } catch {
      return replay(req, res, body);
    }
    if (document instanceof Error) return replay(req, res, body);
    try {
      // A rule that throws (a limit refusing the document) gets Yoga's own answer too.
      if (enveloped.validate(enveloped.schema, document).length > 0) return replay(req, res, body);
    } catch {
      return replay(req, res, body);
    }
    const operation = getOperationAST(document, params.operationName);
    const subscription = operation?.operation === 'subscription';
    if (!operation || subscription !== (type === 'sse')) return replay(req, res, body);

    let contextValue: unknown;
    try {
      contextValue = await enveloped.contextFactory();
    } catch {
      // Refused (a missing or wrong key): Yoga turns the error into its status, 401.
      return replay(req, res, body);
    }
    if (type === 'sse') {
      const args = {
        schema: enveloped.schema,
        document,
        contextValue,
        variableValues: params.variables,
        operationName: params.operationName,
      };
      const events = await subscribeOrError(() => enveloped.subscribe(args));
      return streamEvents(res, events, yoga.fetchAPI, cors.headers(req));
    }
    let result: ExecutionResult;
    try {
      const executed: unknown = await enveloped.execute({
        schema: enveloped.schema,
        document,
        contextValue,
        variableValues: params.variables,
        operationName: params.operationName,
      });
      // No @defer or @stream in this schema: a query or mutation gives one result.
      if (isAsyncIterable(executed)) throw new Error('an incremental result is not supported');
      result = executed as ExecutionResult;
    } catch (error) {
      result = { errors: [asGraphQLError(error)] };
    }
    send(req, res, result, type);
  };
}

/** A thrown error as Yoga's masked GraphQLError. */
function asGraphQLError(error: unknown): GraphQLError {
  const masked = maskError(error, 'Unexpected error.');
  return masked instanceof Error && 'extensions' in masked
    ? (masked as GraphQLError)
    : createGraphQLError(masked.message, { originalError: masked });
}

async function subscribeOrError(subscribe: () => unknown): Promise<unknown> {
  try {
    return await subscribe();
  } catch (error) {
    return { errors: [asGraphQLError(error)] };
  }
}

/** Yoga's SSE keep-alive period (shorter under test, as Yoga's own). */
const pingMs = process.env.NODE_ENV === 'test' ? 300 : 12_000;

/** A result as Yoga serializes it (errors' internals left out). */
const serialize = (result: ExecutionResult): string =>
  (processRegularResult(result, capture, 'application/json') as unknown as Captured).body ?? '';

/**
 * A subscription's results as Yoga's SSE processor frames them (`:` first, `event: next` per
 * result, `event: complete` at the end, a `:` ping every 12 s), written as they come: the
 * results of one event-loop turn leave in one socket write. A result that is not a stream
 * (the subscription failed before it began) goes out through Yoga's own processor.
 */
async function streamEvents(
  res: ServerResponse,
  result: unknown,
  fetchAPI: ConduitYoga['fetchAPI'],
  cors: Record<string, string>,
): Promise<void> {
  if (!isAsyncIterable(result)) {
    const sse = getSSEProcessor();
    const response = await sse(result as ExecutionResult, fetchAPI, 'text/event-stream');
    const headers = cors;
    response.headers.forEach((value, name) => (headers[name] = value));
    res.writeHead(response.status, headers);
    res.end(Buffer.from(await response.arrayBuffer()));
    return;
  }
  const headers = cors;
  headers['content-type'] = 'text/event-stream';
  headers.connection = 'keep-alive';
  headers['cache-control'] = 'no-cache';
  headers['content-encoding'] = 'none';
  res.writeHead(200, headers);
  res.write(':\n\n');
  const iterator = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
  const ping = setInterval(() => res.write(':\n\n'), pingMs);
  const left = () => {
    if (!res.writableFinished) void iterator.return?.();
  };
  res.once('close', left);
  try {
    for (;;) {
      const next = await iterator.next();
      if (res.destroyed) return;
      if (next.value != null && !res.write(`event: next\ndata: ${serialize(next.value)}\n\n`)) {
        await new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      }
      if (next.done) {
        res.end('event: complete\ndata:\n\n');
        return;
      }
    }
  } catch (error) {
    // As Yoga's stream erroring: the connection is cut, and the client sees the stream break.
    res.destroy(error instanceof Error ? error : new Error(String(error)));
  } finally {
    clearInterval(ping);
    res.off('close', left);
  }
}
