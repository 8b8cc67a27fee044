/**
 * GraphQL over HTTP: `POST /graphql` with `content-type: application/json`, one query or
 * mutation answered as JSON, or one subscription answered as server-sent events (`Accept:
 * text/event-stream`, what graphql-sse clients send), run by the operation runner (`runner.ts`)
 * without Yoga's WHATWG Request/Response adaptation (most of Yoga's cost per request, see
 * ARCHITECTURE.md "Where the time goes"; for a subscription, a Web stream and a socket write per
 * event). Answers are Yoga's own: its serializer (`processRegularResult`: status codes, content
 * type, internals stripped) and its SSE frames.
 *
 * GET, HEAD and OPTIONS (GraphiQL, CORS preflights) go to Yoga's handler untouched. Every other
 * request's body is read here, bounded by `server.maxBodyBytes` (413 past it, `http/body.ts`).
 * Yoga answers from the buffered body what the transport does not take: multipart, other
 * content types, query strings, bad JSON, batches, unknown parameters, a document refused by
 * parsing or validation, one with no operation to run, a subscription asked as JSON, a query
 * asked as SSE. Each of those is decided before the key is read, so the key is checked once:
 * here, or by Yoga; a request refused for its key (401) is answered here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { ExecutionResult } from 'graphql';
import { getSSEProcessor, isAsyncIterable, processRegularResult } from 'graphql-yoga';
import { readBody, tooLarge } from '../../http/body.js';
import { cancelWhenGone } from '../../http/client-gone.js';
import { withHead } from '../../http/head.js';
import type { Cors } from '../../http/cors.js';
import { openSse } from '../../http/sse.js';
import type { ConduitYoga } from '../yoga.js';
import { modeOf, paramsOf, type RegularType } from './negotiate.js';
import { createOperationRunner, type OperationRunner } from './runner.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface GraphQLHttpOptions {
  /** The largest body read (`server.maxBodyBytes`); a larger one gets 413, unread. */
  maxBodyBytes: number;
  /** Who may call cross-origin (`server.cors`): the same answer Yoga's `cors` option gives. */
  cors: Cors;
  /** The runner shared with the other edges; one over `yoga` by default. */
  runner?: OperationRunner;
  /**
   * Whether a request goes to Yoga's handler whatever it is (a persisted-only client's: the
   * trusted-documents plugin is Yoga's); undefined when no client is persisted.
   */
  leaveToYoga?: (req: IncomingMessage) => boolean | Promise<boolean>;
}

/** A stand-in for the Fetch API's Response: `processRegularResult` only constructs one. */
class Captured {
  constructor(
    readonly body: string | null,
    readonly init: { status: number; headers: Record<string, string> },
  ) {}
}
const capture = { Response: Captured } as unknown as Parameters<typeof processRegularResult>[1];

/** Whether Yoga's serializer would only stringify `result` (200, nothing to strip or read). */
const plain = (result: ExecutionResult): boolean =>
  !result.errors?.length && result.extensions === undefined;

/** A result as Yoga serializes it for `type`: body, status and headers. */
const serialize = (result: ExecutionResult, type: RegularType): Captured =>
  plain(result)
    ? new Captured(JSON.stringify(result), { status: 200, headers: contentTypes[type] })
    : (processRegularResult(result, capture, type) as unknown as Captured);

/** Yoga's content type header for each JSON type (read, never changed). */
const contentTypes: Record<RegularType, Record<string, string>> = {
  'application/json': { 'content-type': 'application/json; charset=utf-8' },
  'application/graphql-response+json': {
    'content-type': 'application/graphql-response+json; charset=utf-8',
  },
};

export function createGraphQLHttp(yoga: ConduitYoga, options: GraphQLHttpOptions): Handler {
  const { maxBodyBytes, cors } = options;
  const runner = options.runner ?? createOperationRunner(yoga);

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
      } as RequestInit,
      { cancel: cancelWhenGone(res) },
    );
    // Yoga's Headers may keep the case they were written in.
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => (out[name.toLowerCase()] = value));
    const type = out['content-type'] ?? '';
    if (response.body && (type.startsWith('text/event-stream') || type.startsWith('multipart/'))) {
      res.writeHead(response.status, withHead(res, out));
      // The client leaving ends the pipeline early: Yoga's stream is cancelled, nothing to report.
      await pipeline(response.body as unknown as AsyncIterable<Uint8Array>, res).catch(() => {});
      return;
    }
    const answer = Buffer.from(await response.arrayBuffer());
    out['content-length'] = String(answer.length);
    res.writeHead(response.status, withHead(res, out));
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
    res.writeHead(413, withHead(res, headers));
    res.end(text);
  }

  function send(
    req: IncomingMessage,
    res: ServerResponse,
    result: ExecutionResult,
    type: RegularType,
    corsHeaders: Record<string, string> = cors.headers(req),
  ): void {
    const { body, init } = serialize(result, type);
    const text = body ?? '';
    const headers: Record<string, string> = corsHeaders;
    for (const [name, value] of Object.entries(init.headers)) headers[name.toLowerCase()] = value;
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(init.status, withHead(res, headers));
    res.end(text);
  }

  return async (req, res) => {
    const method = req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') {
      // Bodiless: Yoga reads none. One that says it is too large is refused all the same.
      if (Number(req.headers['content-length']) > maxBodyBytes) return refuseTooLarge(req, res);
      return yoga(req, res, { cancel: cancelWhenGone(res) });
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === tooLarge) return refuseTooLarge(req, res);
    const mode = modeOf(req);
    if (!mode) return replay(req, res, body);
    const params = paramsOf(body);
    if (!params) return replay(req, res, body);
    const leave = options.leaveToYoga?.(req);
    if (leave === true || (leave instanceof Promise && (await leave)))
      return replay(req, res, body);

    const authorization = req.headers.authorization ?? null;
    const origin = req.headers.origin ?? null;
    const cancel = cancelWhenGone(res);
    let checked;
    try {
      checked = runner.check(params, { authorization, origin, cancel });
    } catch {
      // A rule that throws something other than a refusal: Yoga's own answer.
      return replay(req, res, body);
    }
    // A refused document gets Yoga's answer (its key unread: Yoga reads it once, after).
    if ('errors' in checked) return replay(req, res, body);
    const subscription = checked.operation?.operation === 'subscription';
    if (!checked.operation || subscription !== (mode === 'sse')) return replay(req, res, body);
    cancel.span?.operation(checked.operation.operation, checked.operation.name?.value);

    const started = await runner.start(checked);
    if ('refused' in started) {
      // A missing or wrong key: Yoga's answer to it (401), without Yoga running anything again.
      const refusal = { errors: [started.refused] };
      // Refused for its origin: no CORS headers, so the page cannot read even the refusal.
      const corsHeaders = isOriginRefusal(started.refused) ? {} : cors.headers(req);
      return mode === 'sse'
        ? streamEvents(res, refusal, yoga.fetchAPI, corsHeaders)
        : send(req, res, refusal, mode, corsHeaders);
    }
    if (mode === 'sse') {
      const events = await runner.subscribe(started);
      return streamEvents(res, events, yoga.fetchAPI, cors.headers(req));
    }
    send(req, res, await runner.execute(started), mode);
  };
}

const isOriginRefusal = (error: { extensions?: Record<string, unknown> }): boolean =>
  error.extensions?.code === 'FORBIDDEN' && typeof error.extensions.origin === 'string';

/** A result as Yoga serializes it (errors' internals left out). */
const asJson = (result: ExecutionResult): string =>
  plain(result) ? JSON.stringify(result) : (serialize(result, 'application/json').body ?? '');

/**
 * A subscription's results as Yoga's SSE processor frames them (`:` first, `event: next` per
 * result, `event: complete` at the end, a bare `:` ping every 12 s), through the one SSE writer
 * (`http/sse.ts`): the results of one event-loop turn leave in one socket write. A result that
 * is not a stream (the subscription failed before it began, or the key was refused) goes out
 * through Yoga's own processor.
 */
async function streamEvents(
  res: ServerResponse,
  result: AsyncIterable<ExecutionResult> | ExecutionResult,
  fetchAPI: ConduitYoga['fetchAPI'],
  cors: Record<string, string>,
): Promise<void> {
  if (!isAsyncIterable(result)) {
    const sse = getSSEProcessor();
    const response = await sse(result, fetchAPI, 'text/event-stream');
    const headers = cors;
    response.headers.forEach((value, name) => (headers[name] = value));
    res.writeHead(response.status, withHead(res, headers));
    res.end(Buffer.from(await response.arrayBuffer()));
    return;
  }
  const iterator = result[Symbol.asyncIterator]();
  cors['content-encoding'] = 'none';
  const sse = openSse(res, {
    headers: cors,
    contentType: 'text/event-stream',
    ping: '',
    onClose: () => void iterator.return?.(),
  });
  try {
    for (;;) {
      const next = await iterator.next();
      if (sse.closed) return;
      if (next.done) return sse.end({ event: 'complete', data: '' });
      if (!sse.send({ event: 'next', data: asJson(next.value) })) await sse.drained();
    }
  } catch (error) {
    // As Yoga's stream erroring: the connection is cut, and the client sees the stream break.
    sse.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}
