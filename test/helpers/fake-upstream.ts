/**
 * A real node:http server standing in for a provider. Each request is answered by a scenario
 * (a typed union, one per call or from a function), written to the socket byte for byte so
 * tests can reproduce the ugly corners of real streams: events split across writes, several
 * events in one write, CRLF, comments, cuts and hangs. Every request is recorded.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Scenario =
  /** A whole JSON body. */
  | { kind: 'json'; body: unknown; status?: number; headers?: Record<string, string> }
  /** A body sent in these writes, each flushed on its own (after `delayMs`). */
  | {
      kind: 'stream';
      writes: readonly string[];
      status?: number;
      headers?: Record<string, string>;
      delayMs?: number;
    }
  /** These writes, then the connection is destroyed without ending the body. */
  | { kind: 'cut'; writes: readonly string[]; status?: number; headers?: Record<string, string> }
  /** Headers are never sent; the request waits until the client gives up. */
  | { kind: 'hang' }
  /** Headers sent, then `writes`, then silence until the client gives up. */
  | { kind: 'stall'; writes: readonly string[]; headers?: Record<string, string> };

export interface RecordedCall {
  method: string;
  /** Path with query. */
  url: string;
  headers: IncomingMessage['headers'];
  /** The body parsed as JSON (undefined when empty or not JSON). */
  json: unknown;
  text: string;
  /** Resolves when the client closed the request before the answer ended. */
  aborted: Promise<void>;
  /** Resolves when the answer was written whole or the client went away. */
  finished: Promise<void>;
}

export type Responder = (call: RecordedCall, index: number) => Scenario | Promise<Scenario>;

export interface FakeUpstream {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  calls: RecordedCall[];
  /** Answer the next calls with these scenarios, in order, before falling back to the default. */
  enqueue(...scenarios: Scenario[]): void;
  close(): Promise<void>;
}

const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

export async function createFakeUpstream(defaultResponder: Responder): Promise<FakeUpstream> {
  const calls: RecordedCall[] = [];
  const queue: Scenario[] = [];

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    let markAborted!: () => void;
    let markFinished!: () => void;
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      json,
      text,
      aborted: new Promise((resolve) => (markAborted = resolve)),
      finished: new Promise((resolve) => (markFinished = resolve)),
    };
    res.on('close', () => {
      if (!res.writableFinished) markAborted();
      markFinished();
    });
    const index = calls.push(call) - 1;
    const scenario = queue.shift() ?? (await defaultResponder(call, index));
    await play(scenario, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    enqueue: (...scenarios) => queue.push(...scenarios),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function play(scenario: Scenario, res: ServerResponse): Promise<void> {
  switch (scenario.kind) {
    case 'json': {
      const body = JSON.stringify(scenario.body);
      res.writeHead(scenario.status ?? 200, {
        'content-type': 'application/json',
        ...scenario.headers,
      });
      res.end(body);
      return;
    }
    case 'stream':
    case 'cut':
    case 'stall': {
      res.writeHead('status' in scenario ? (scenario.status ?? 200) : 200, {
        ...sseHeaders,
        ...scenario.headers,
      });
      res.flushHeaders();
      for (const write of scenario.writes) {
        if (res.destroyed) return;
        if (scenario.kind === 'stream' && scenario.delayMs) await delay(scenario.delayMs);
        await new Promise<void>((resolve) => res.write(write, () => resolve()));
      }
      if (scenario.kind === 'cut') res.socket?.destroy();
      else if (scenario.kind === 'stream') res.end();
      return;
    }
    case 'hang':
      return;
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Splits SSE text into writes of at most `size` bytes, cutting events mid-line on purpose. */
export function splitWrites(text: string, size: number): string[] {
  const writes: string[] = [];
  for (let i = 0; i < text.length; i += size) writes.push(text.slice(i, i + size));
  return writes;
}
