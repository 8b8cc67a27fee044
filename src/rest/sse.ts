/**
 * Server-sent events onto a node:http ServerResponse. Multi-line data becomes several `data:`
 * lines and CR/LF is refused in `event` and `id` (as Hono's `writeSSE`); a comment goes out at
 * once, so the client sees the headers, and then every `pingMs` (as Yoga's SSE result
 * processor), so proxies keep the connection. When the client goes away, `onClose` runs: the
 * caller stops its upstream there.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface SseOptions {
  /** Sent with 200; the event-stream headers (content-type…) win over these. */
  headers?: OutgoingHttpHeaders;
  /** Between keep-alive comments; 0 turns them off. @default 15000 */
  pingMs?: number;
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
  comment(text?: string): void;
  /** Resolves when the buffer has room again, or the client went away. */
  drained(): Promise<void>;
  end(): void;
}

const lineBreak = /\r\n|\r|\n/;

/** One event as the wire carries it. Throws on CR/LF in `event` or `id`. */
export function formatSseEvent(event: SseEvent | string): string {
  if (typeof event === 'string') return `data: ${dataLines(event)}\n\n`;
  let frame = '';
  if (event.event !== undefined) frame += `event: ${field('event', event.event)}\n`;
  if (event.id !== undefined) frame += `id: ${field('id', event.id)}\n`;
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
  res.writeHead(200, {
    ...options.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(':\n\n');

  // Events sent in one turn of the event loop (an upstream read carries many) go out in one
  // res.write at the end of it: a write per event costs more than the event's own bytes.
  let pending = '';
  let scheduled = false;
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

  const pingMs = options.pingMs ?? 15_000;
  const timer = pingMs > 0 ? setInterval(() => stream.comment('ping'), pingMs) : undefined;
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
      queue(`: ${field('comment', text)}\n\n`);
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
    end() {
      if (timer) clearInterval(timer);
      if (closed) return;
      flush();
      closed = true;
      res.off('close', onClose);
      res.end();
    },
  };
  return stream;
}
