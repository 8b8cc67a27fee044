/**
 * The one writer of server-sent events onto a node:http ServerResponse, for REST streams
 * (OpenAI's chunks) and GraphQL subscriptions over SSE (Yoga's frames). Multi-line data becomes
 * several `data:` lines and CR/LF is refused in `event` and `id` (as Hono's `writeSSE`); a
 * comment goes out at once, so the client sees the headers, and then every `pingMs` (one
 * keep-alive period for every stream, Yoga's), so proxies keep the connection. The events of one
 * event-loop turn leave in one socket write. When the client goes away, `onClose` runs: the
 * caller stops its upstream there.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { withHead } from './head.js';

/**
 * Between keep-alive comments: Yoga's 12 s (300 ms under NODE_ENV=test, as Yoga's own, so that
 * tests see a ping without waiting).
 */
export const keepAliveMs = process.env.NODE_ENV === 'test' ? 300 : 12_000;

export interface SseOptions {
  /** Sent with 200; the event-stream headers (content-type…) win over these. */
  headers?: OutgoingHttpHeaders;
  /** @default 'text/event-stream; charset=utf-8' (GraphQL: Yoga's `text/event-stream`) */
  contentType?: string;
  /** Between keep-alive comments; 0 turns them off. @default keepAliveMs */
  pingMs?: number;
  /** The keep-alive comment's text (`: ping`); '' sends Yoga's bare `:`. @default 'ping' */
  ping?: string;
  /** The client went away before `end()`. */
  onClose?: () => void;
}

export interface SseEvent {
  data: string;
  event?: string;
  id?: string;
}

export interface SseStream {
  /** True once the client went away or `end()` was called. */
  readonly closed: boolean;
  /** Writes one event; false when the socket's buffer is full (await `drained()`). */
  send(event: SseEvent | string): boolean;
  /** A comment line: `: text`, or a bare `:` for ''. */
  comment(text?: string): void;
  /** Resolves when the buffer has room again, or the client went away. */
  drained(): Promise<void>;
  /** Ends the stream, after `last` when given. */
  end(last?: SseEvent | string): void;
  /** Cuts the connection (what was sent before goes first): the client sees the stream break. */
  destroy(error: Error): void;
}

const lineBreak = /\r\n|\r|\n/;

/** One event as the wire carries it. Throws on CR/LF in `event` or `id`. */
export function formatSseEvent(event: SseEvent | string): string {
  if (typeof event === 'string') return `data: ${dataLines(event)}\n\n`;
  let frame = '';
  if (event.event !== undefined) frame += `event: ${field('event', event.event)}\n`;
  if (event.id !== undefined) frame += `id: ${field('id', event.id)}\n`;
  // No data: a bare `data:` (as Yoga's `event: complete`), the same to a client as `data: `.
  if (event.data === '') return `${frame}data:\n\n`;
  return `${frame}data: ${dataLines(event.data)}\n\n`;
}

function dataLines(data: string): string {
  // JSON text never holds a raw line break: the common case costs two scans, no split.
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) return data;
  return data.split(lineBreak).join('\ndata: ');
}

function field(name: string, value: string): string {
  if (value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1) {
    throw new Error(`an SSE ${name} must not contain CR or LF`);
  }
  return value;
}

export function openSse(res: ServerResponse, options: SseOptions = {}): SseStream {
  let closed = false;
  res.writeHead(
    200,
    withHead(res, {
      ...options.headers,
      'content-type': options.contentType ?? 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    }),
  );

  // Events sent in one turn of the event loop (an upstream read carries many) go out in one
  // res.write at the end of it: a write per event costs more than the event's own bytes. The
  // opening comment (and the headers) leave with them: at the end of this turn.
  let pending = ':\n\n';
  let scheduled = true;
  let full = false;
  const flush = () => {
    scheduled = false;
    if (closed || pending === '') return;
    const text = pending;
    pending = '';
    full = !res.write(text);
  };
  const queue = (text: string): boolean => {
    pending += text;
    if (!scheduled) {
      scheduled = true;
      process.nextTick(flush);
    }
    return !full;
  };

  process.nextTick(flush);

  const pingMs = options.pingMs ?? keepAliveMs;
  const pingText = options.ping ?? 'ping';
  const timer = pingMs > 0 ? setInterval(() => stream.comment(pingText), pingMs) : undefined;
  timer?.unref();

  const onClose = () => {
    if (timer) clearInterval(timer);
    if (closed) return;
    closed = true;
    pending = '';
    options.onClose?.();
  };
  res.once('close', onClose);

  const stream: SseStream = {
    get closed() {
      return closed;
    },
    send(event) {
      if (closed) return false;
      return queue(formatSseEvent(event));
    },
    comment(text = '') {
      if (closed) return;
      queue(text === '' ? ':\n\n' : `: ${field('comment', text)}\n\n`);
    },
    drained() {
      flush();
      if (closed || !res.writableNeedDrain) {
        full = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          full = false;
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    },
    end(last) {
      if (timer) clearInterval(timer);
      if (closed) return;
      if (last !== undefined) pending += formatSseEvent(last);
      // The last events and the end of the body in one write: end() uncorks the socket fully.
      res.cork();
      flush();
      closed = true;
      res.off('close', onClose);
      res.end();
    },
    destroy(error) {
      if (timer) clearInterval(timer);
      const text = closed ? '' : pending;
      pending = '';
      // Cut once what was gathered is on the socket (a destroy drops what is still buffered).
      if (text === '') res.destroy(error);
      else res.write(text, () => res.destroy(error));
    },
  };
  return stream;
}
