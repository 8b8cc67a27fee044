/**
 * The transport to upstream providers: one keep-alive undici Pool per origin, total and
 * first-byte timeouts, abort when the caller goes away, and SSE framing by eventsource-parser.
 * The same calls carry a client's own body for a provider that speaks its API (`native`).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { Cancel, type CancelSignal } from '../gateway/cancel.js';
import { UpstreamError } from '../gateway/errors.js';
import type { ChatResponse, StreamEvent } from '../gateway/types.js';
import { nativeBody, tapStream } from './native.js';
import type {
  EmbeddingCall,
  EmbeddingResult,
  HttpAdapter,
  HttpRequestSpec,
  NativeProvider,
  Provider,
  ProviderCall,
  ProviderType,
} from './types.js';

/**
 * Connections per upstream origin. HTTP/1.1 holds one per request in flight, and an answer
 * streamed token by token holds its connection for its whole length: a cap of a few hundred
 * queued the 257th concurrent stream behind the first 256 (bench/run.ts, 1,000 slow streams).
 */
const maxConnectionsPerOrigin = 10_000;

/** Holds one keep-alive pool per upstream origin, shared by every provider that calls it. */
export class Transport {
  readonly #pools = new Map<string, Pool>();

  pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: maxConnectionsPerOrigin,
        pipelining: 1,
        keepAliveTimeout: 30_000,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}

export interface HttpProviderOptions {
  name: string;
  type: ProviderType;
  models: readonly string[];
  /** False: the provider takes no image parts. @default true */
  images?: boolean;
  baseUrl: string;
  adapter: HttpAdapter;
  transport: Transport;
  /** The whole call, body included. */
  timeoutMs: number;
  /** Until the response headers, and then the longest silence between body chunks. */
  firstByteTimeoutMs: number;
}

interface OpenResponse {
  body: Dispatcher.ResponseData['body'];
  /** Clears the timers; call once the body is consumed or dropped. */
  done(): void;
  timedOut(): boolean;
}

export function createHttpProvider(options: HttpProviderOptions): Provider {
  const { adapter, transport, timeoutMs, firstByteTimeoutMs } = options;
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const origin = base.origin;
  const basePath = base.pathname.replace(/\/$/, '');

  /** Sends one call, cancelled when `signal` aborts or the call's own timeout passes. */
  async function open(
    spec: HttpRequestSpec,
    key: string | undefined,
    signal: CancelSignal,
    stream: boolean,
    forwarded?: Record<string, string>,
  ): Promise<OpenResponse> {
    signal.throwIfAborted();
    // The call's own: its timeout cancels this call only, not the request's other tries.
    const cancel = new Cancel();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      cancel.abort(new DOMException(`the call took over ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    const onAbort = () => cancel.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    try {
      const response = await transport.pool(origin).request({
        method: 'POST',
        path: basePath + spec.path,
        headers: {
          'content-type': 'application/json',
          accept: stream ? 'text/event-stream' : 'application/json',
          ...adapter.authHeaders(key),
          ...forwarded,
        },
        body: JSON.stringify(spec.body),
        signal: cancel,
        headersTimeout: firstByteTimeoutMs,
        bodyTimeout: firstByteTimeoutMs,
      });
      if (response.statusCode >= 400) {
        const body = await response.body.text().catch(() => '');
        throw adapter.parseError({ status: response.statusCode, headers: response.headers, body });
      }
      return { body: response.body, done, timedOut: () => timedOut };
    } catch (error) {
      done();
      throw toUpstreamError(error, timedOut, signal, options.name);
    }
  }

  /**
   * Sends a streamed call once read (`opening`) and reads its SSE events with `parse`; the body
   * is let go as below. The call's own generator: a slow stream holds each level of generators
   * for its whole length, one less of each a stream at 10,000 streams (issue 13).
   */
  async function* streamOf<E>(
    opening: () => Promise<OpenResponse>,
    signal: CancelSignal,
    parse: (events: AsyncIterable<EventSourceMessage>) => AsyncIterable<E>,
  ): AsyncGenerator<E> {
    const response = await opening();
    const { body } = response;
    let finished = false;
    try {
      // Not destroyed when the parser stops reading at the stream's end: see below.
      const bytes = body.iterator({ destroyOnReturn: false });
      yield* parse(sseMessages(bytes));
      finished = true;
    } catch (error) {
      throw toUpstreamError(error, response.timedOut(), signal, options.name);
    } finally {
      response.done();
      // Finished: what follows the last event is read, so the connection goes back to the
      // pool. Else the consumer left early: stop the upstream, nobody pays for unread tokens.
      if (finished) readRest(body);
      else if (!body.destroyed) body.on('error', () => {}).destroy();
    }
  }

  const wire = adapter.native;
  const native: NativeProvider | undefined = wire && {
    api: wire.api,
    async forward(call) {
      const context = { model: call.model, request: call.request };
      const spec = { path: wire.path, body: nativeBody(wire, call, false) };
      const headers = wire.headers(call.native.headers);
      const response = await open(spec, call.key, call.signal, false, headers);
      try {
        const body: unknown = await response.body.json();
        return { body, response: wire.parseResponse(body, context) };
      } catch (error) {
        throw toUpstreamError(error, response.timedOut(), call.signal, options.name);
      } finally {
        response.done();
      }
    },
    forwardStream(call) {
      const context = { model: call.model, request: call.request };
      return streamOf(
        () => {
          const spec = { path: wire.path, body: nativeBody(wire, call, true) };
          return open(spec, call.key, call.signal, true, wire.headers(call.native.headers));
        },
        call.signal,
        (events) => tapStream(events, (feed) => wire.parseStream(feed, context)),
      );
    },
  };

  return {
    name: options.name,
    type: options.type,
    models: options.models,
    images: options.images ?? true,
    ...(native && { native }),

    async chat(call: ProviderCall): Promise<ChatResponse> {
      const context = { model: call.model, request: call.request };
      const spec = adapter.chatRequest(call.request, { model: call.model, stream: false });
      const response = await open(spec, call.key, call.signal, false);
      try {
        return adapter.parseChatResponse(await response.body.json(), context);
      } catch (error) {
        throw toUpstreamError(error, response.timedOut(), call.signal, options.name);
      } finally {
        response.done();
      }
    },

    chatStream(call: ProviderCall): AsyncGenerator<StreamEvent> {
      const context = { model: call.model, request: call.request };
      return streamOf(
        () => {
          const spec = adapter.chatRequest(call.request, { model: call.model, stream: true });
          return open(spec, call.key, call.signal, true);
        },
        call.signal,
        (events) => adapter.parseChatStream(events, context),
      );
    },

    ...(adapter.embeddings && {
      async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
        const embeddings = adapter.embeddings!;
        const response = await open(embeddings.request(call), call.key, call.signal, false);
        try {
          return embeddings.parse(await response.body.json(), call);
        } catch (error) {
          throw toUpstreamError(error, response.timedOut(), call.signal, options.name);
        } finally {
          response.done();
        }
      },
    }),

    async probeKey(key: string): Promise<number> {
      const response = await transport.pool(origin).request({
        method: 'GET',
        path: `${basePath}/models`,
        headers: { accept: 'application/json', ...adapter.authHeaders(key) },
        headersTimeout: firstByteTimeoutMs,
        bodyTimeout: firstByteTimeoutMs,
      });
      await response.body.dump();
      return response.statusCode;
    },

    async close() {},
  };
}

/** What a server may still send after a stream's last event before it loses its connection. */
const maxTrailingBytes = 64 * 1024;

/**
 * Reads what is left of a body whose last event is in hand (the chunked terminator, usually),
 * so undici keeps the connection: destroying an unfinished body closes its socket.
 */
function readRest(body: Dispatcher.ResponseData['body']): void {
  if (body.destroyed || body.readableEnded) return;
  let left = maxTrailingBytes;
  body
    .on('error', () => {})
    .on('data', (chunk: Buffer) => {
      left -= chunk.length;
      if (left < 0) body.destroy();
    })
    .resume();
}

/** Bytes of an SSE body → its messages (comments skipped, CRLF and split writes handled). */
export async function* sseMessages(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => pending.push(message) });
  const decoder = new TextDecoder();
  for await (const bytes of body) {
    parser.feed(decoder.decode(bytes, { stream: true }));
    for (let i = 0; i < pending.length; i++) yield pending[i]!;
    pending.length = 0;
  }
  parser.feed(decoder.decode());
  for (const message of pending) yield message;
}

/** Any failure of a call → UpstreamError; the caller's own abort is passed through untouched. */
function toUpstreamError(
  error: unknown,
  timedOut: boolean,
  signal: CancelSignal,
  provider: string,
): unknown {
  if (UpstreamError.isInstance(error)) return error;
  if (signal.aborted && !timedOut) return signal.reason ?? error;
  const cause = error;
  if (
    timedOut ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new UpstreamError({ kind: 'timeout', message: `${provider} timed out`, cause });
  }
  if (error instanceof SyntaxError) {
    return new UpstreamError({
      kind: 'server',
      message: `${provider} sent a body that is not JSON`,
      cause,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError({
    kind: 'connection',
    message: `${provider} connection failed: ${message}`,
    cause,
  });
}
