/** http/sse.ts on a real node:http server: framing, keep-alive comments, the client leaving. */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  formatSseEvent,
  keepAliveMs,
  openSse,
  type SseOptions,
  type SseStream,
} from '../../src/http/sse.js';
import { onDispose } from '../helpers/dispose.js';

describe('formatSseEvent', () => {
  it('frames data, and splits multi-line data into several data lines', () => {
    expect(formatSseEvent('{"a":1}')).toBe('data: {"a":1}\n\n');
    expect(formatSseEvent('one\ntwo\r\nthree\rfour')).toBe(
      'data: one\ndata: two\ndata: three\ndata: four\n\n',
    );
    expect(formatSseEvent({ event: 'delta', id: '7', data: 'x' })).toBe(
      'event: delta\nid: 7\ndata: x\n\n',
    );
  });

  it('refuses CR or LF in event and id', () => {
    expect(() => formatSseEvent({ event: 'a\nb', data: 'x' })).toThrow(/event must not contain/);
    expect(() => formatSseEvent({ id: 'a\rb', data: 'x' })).toThrow(/id must not contain/);
  });
});

/** A server whose one handler opens an SSE stream and hands it to the test. */
async function serve(options: SseOptions) {
  let resolveStream!: (value: { sse: SseStream; res: ServerResponse }) => void;
  const opened = new Promise<{ sse: SseStream; res: ServerResponse }>((r) => (resolveStream = r));
  const server = createServer((_req, res) => resolveStream({ sse: openSse(res, options), res }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onDispose(() => new Promise((r) => server.close(r)));
  server.on('close', () => server.closeAllConnections());
  const { port } = server.address() as AddressInfo;
  const req = request({ port, host: '127.0.0.1', path: '/' });
  req.end();
  const [response] = (await once(req, 'response')) as [IncomingMessage];
  response.setEncoding('utf8');
  return { opened, response, req, close: () => server.closeAllConnections() };
}

/** Reads the body until it holds `count` occurrences of `needle`. */
async function readUntil(response: IncomingMessage, needle: string, count = 1): Promise<string> {
  let text = '';
  for await (const piece of response) {
    text += piece as string;
    if (text.split(needle).length - 1 >= count) return text;
  }
  return text;
}

describe('openSse', () => {
  it('sends the headers and a comment at once, then pings every pingMs', async () => {
    const { opened, response } = await serve({
      headers: { 'x-conduit-provider': 'echo' },
      pingMs: 10,
    });
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(response.headers['x-conduit-provider']).toBe('echo');
    const { sse } = await opened;
    const text = await readUntil(response, ': ping\n\n', 2);
    expect(text.startsWith(':\n\n')).toBe(true);
    sse.send('done');
    sse.end();
    expect(sse.closed).toBe(true);
    expect(sse.send('late')).toBe(false);
  });

  it('runs onClose when the client goes away, and not after end()', async () => {
    let closes = 0;
    const { opened, req } = await serve({ pingMs: 0, onClose: () => closes++ });
    const { sse, res } = await opened;
    const gone = once(res, 'close');
    req.destroy();
    await gone;
    expect(closes).toBe(1);
    expect(sse.closed).toBe(true);
    await sse.drained();
    sse.end();
    expect(closes).toBe(1);
  });

  it('sends the events of one turn of the event loop in one write, in order, before end()', async () => {
    const { opened, response } = await serve({ pingMs: 0 });
    const { sse, res } = await opened;
    const writes: string[] = [];
    const write = res.write.bind(res) as (chunk: string) => boolean;
    res.write = ((chunk: string) => {
      writes.push(chunk);
      return write(chunk);
    }) as typeof res.write;
    sse.send('one');
    sse.send({ event: 'delta', data: 'two' });
    sse.send('three');
    const body = readUntil(response, 'data: three\n\n');
    expect(await body).toContain('data: one\n\nevent: delta\ndata: two\n\ndata: three\n\n');
    expect(writes).toEqual(['data: one\n\nevent: delta\ndata: two\n\ndata: three\n\n']);
    sse.send('last');
    sse.end(); // what is still gathered goes out before the end
    expect(writes.at(-1)).toBe('data: last\n\n');
    expect(res.writableEnded).toBe(true);
  });

  it('writes Yoga’s frames for GraphQL: its content type, bare pings, a complete event with no data', async () => {
    const { opened, response } = await serve({
      contentType: 'text/event-stream',
      headers: { 'content-encoding': 'none' },
      ping: '',
      pingMs: 10,
    });
    expect(response.headers['content-type']).toBe('text/event-stream');
    expect(response.headers['content-encoding']).toBe('none');
    const { sse } = await opened;
    let text = '';
    const pinged = new Promise<void>((resolve) =>
      response.on('data', (piece: string) => {
        text += piece;
        if (text.split(':\n\n').length > 2) resolve();
      }),
    );
    await pinged;
    sse.send({ event: 'next', data: '{"data":{}}' });
    sse.end({ event: 'complete', data: '' });
    await once(response, 'end');
    expect(text).not.toContain(': ping');
    expect(text.replace(/^(:\n\n)+/, '')).toBe(
      'event: next\ndata: {"data":{}}\n\nevent: complete\ndata:\n\n',
    );
  });

  it('keeps every stream alive on one period, Yoga’s 12 s (300 ms under test)', () => {
    expect(keepAliveMs).toBe(process.env.NODE_ENV === 'test' ? 300 : 12_000);
  });

  it('sends what was gathered before cutting the connection on destroy()', async () => {
    const { opened, response } = await serve({ pingMs: 0 });
    const { sse } = await opened;
    let text = '';
    response.on('data', (piece: string) => (text += piece));
    const ended = new Promise((resolve) => {
      response.once('close', resolve);
      response.once('error', resolve);
    });
    sse.send('before the break');
    sse.destroy(new Error('upstream broke'));
    await ended;
    expect(text).toBe(':\n\ndata: before the break\n\n');
    expect(response.complete).toBe(false);
  });
});
