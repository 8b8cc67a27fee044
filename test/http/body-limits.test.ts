/**
 * Body limits on every edge, through real sockets: a body said or found to be larger than
 * `server.maxBodyBytes` gets 413 without being read (REST in OpenAI's error shape, GraphQL as a
 * GraphQL-over-HTTP error), a WebSocket message past it closes its socket with 1009, and a
 * client that leaves mid-body costs one info line.
 */
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { collect, wsClient } from '../helpers/clients.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { assertSchema } from '../helpers/openai-schemas.js';

const KEY = 'ck-body-limits';
const auth = { authorization: `Bearer ${KEY}` };
const MiB = 1024 * 1024;
const STREAM = `subscription ($input: CompletionInput!) { completionStream(input: $input) { delta } }`;
const say = (content: string) => ({
  input: { model: 'echo/echo', messages: [{ role: 'USER', content }] },
});

interface Upload {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** Bytes the client had written when the answer came. */
  sent: number;
}

/**
 * POSTs `total` bytes in 64 KiB writes, waiting for the socket to drain between them as any
 * well-behaved client does, and stops writing as soon as the answer arrives.
 */
function upload(
  url: string,
  total: number,
  headers: Record<string, string>,
  declareLength: boolean,
): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    let answered = false;
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, ...(declareLength && { 'content-length': String(total) }) },
    });
    req.on('response', (res) => {
      answered = true;
      const at = sent;
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => {
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(parts).toString(),
          sent: at,
        });
        req.destroy();
      });
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const write = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      if (!answered) req.end();
    };
    write();
  });
}

/** A body sent chunked (no content-length), as fetch sends a stream. */
const chunked = (bytes: Uint8Array): RequestInit =>
  ({
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(bytes);
        controller.close();
      },
    }),
    duplex: 'half',
  }) as RequestInit;

/** A body sent whole, with its content-length. */
const whole = (bytes: Uint8Array): RequestInit => ({ body: bytes as Uint8Array<ArrayBuffer> });

/** A GraphQL request body of exactly `size` bytes (the query padded with spaces). */
function gqlBody(size: number): Uint8Array {
  const text = JSON.stringify({ query: `{ __typename ${' '.repeat(size)}}` });
  const over = text.length - size;
  return new TextEncoder().encode(
    JSON.stringify({ query: `{ __typename ${' '.repeat(size - over)}}` }),
  );
}

/** A chat completion request body of exactly `size` bytes. */
function chatBody(size: number): Uint8Array {
  const make = (pad: number) =>
    JSON.stringify({ model: 'echo/echo', messages: [{ role: 'user', content: 'x'.repeat(pad) }] });
  return new TextEncoder().encode(make(size - make(0).length));
}

describe('body limits at the default (4 MiB)', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  it('refuses a 100 MB GraphQL upload with no key with 413 before reading it', async () => {
    for (const accept of ['application/json', 'text/event-stream']) {
      const answer = await upload(
        gw.graphqlUrl,
        100_000_000,
        { 'content-type': 'application/json', accept },
        true,
      );
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toEqual({
        errors: [{ message: `the request body is larger than ${4 * MiB} bytes` }],
      });
      expect(answer.headers.connection).toBe('close');
      // The answer came while the client was still writing, not after 100 MB went in.
      expect(answer.sent).toBeLessThan(32 * MiB);
    }
  });

  it('refuses a 100 MB REST upload with no key with 413 in OpenAI’s shape before reading it', async () => {
    const answer = await upload(
      `${gw.url}/v1/chat/completions`,
      100_000_000,
      { 'content-type': 'application/json' },
      true,
    );
    expect(answer.status).toBe(413);
    const body = JSON.parse(answer.body);
    assertSchema('ErrorResponse', body);
    expect(body.error.message).toBe(`the request body is larger than ${4 * MiB} bytes`);
    expect(answer.headers.connection).toBe('close');
    expect(answer.sent).toBeLessThan(32 * MiB);
  });

  it('stops reading a chunked body the moment it passes the limit', async () => {
    // No content-length: the server only learns the size by reading.
    const graphql = await upload(
      gw.graphqlUrl,
      100_000_000,
      { 'content-type': 'application/json', ...auth },
      false,
    );
    expect(graphql.status).toBe(413);
    expect(graphql.sent).toBeLessThan(32 * MiB);
    const rest = await upload(
      `${gw.url}/v1/chat/completions`,
      100_000_000,
      { 'content-type': 'application/json', ...auth },
      false,
    );
    expect(rest.status).toBe(413);
    expect(rest.sent).toBeLessThan(32 * MiB);
  });

  it('answers 413 to a chunked body one byte over 4 MiB, on every route', async () => {
    const over = gqlBody(4 * MiB + 1);
    const json = { 'content-type': 'application/json', ...auth };
    for (const headers of [
      json,
      { ...json, accept: 'text/event-stream' },
      // Not the fast path's: Yoga answers, from a body read here.
      { ...json, 'content-type': 'application/graphql-response+json' },
    ]) {
      const response = await fetch(gw.graphqlUrl, { method: 'POST', headers, ...chunked(over) });
      expect([headers, response.status]).toEqual([headers, 413]);
      expect((await response.json()).errors[0].message).toMatch(/larger than 4194304 bytes/);
    }
    const rest = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: json,
      ...chunked(chatBody(4 * MiB + 1)),
    });
    expect(rest.status).toBe(413);
    expect((await rest.json()).error.message).toMatch(/larger than 4194304 bytes/);
  });
});

describe('body limits at a configured size', () => {
  let gw: TestConduit;
  const limit = 2000;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
      server: { maxBodyBytes: limit },
    });
  });

  it('reads a body of exactly the limit and refuses one byte more, chunked or not', async () => {
    const json = { 'content-type': 'application/json', ...auth };
    for (const send of [whole, chunked]) {
      const fits = await fetch(gw.graphqlUrl, {
        method: 'POST',
        headers: json,
        ...send(gqlBody(limit)),
      });
      expect(await fits.json()).toEqual({ data: { __typename: 'Query' } });
      const over = await fetch(gw.graphqlUrl, {
        method: 'POST',
        headers: json,
        ...send(gqlBody(limit + 1)),
      });
      expect(over.status).toBe(413);

      const chat = `${gw.url}/v1/chat/completions`;
      const ok = await fetch(chat, { method: 'POST', headers: json, ...send(chatBody(limit)) });
      expect(ok.status).toBe(200);
      const refused = await fetch(chat, {
        method: 'POST',
        headers: json,
        ...send(chatBody(limit + 1)),
      });
      expect(refused.status).toBe(413);
    }
  });

  it('hands Yoga only bodies it has read, bounded (multipart, form posts)', async () => {
    const big = 'x'.repeat(limit * 10);
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: '{ __typename }', pad: big }));
    form.set('map', '{}');
    const multipart = await fetch(gw.graphqlUrl, { method: 'POST', headers: auth, body: form });
    expect(multipart.status).toBe(413);
    const graphql = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/graphql' },
      ...chunked(new TextEncoder().encode(`{ __typename ${big} }`)),
    });
    expect(graphql.status).toBe(413);
  });

  it('closes a WebSocket whose message is too big with 1009, and keeps serving', async () => {
    const socket = new WebSocket(gw.wsUrl, 'graphql-transport-ws');
    await once(socket, 'open');
    socket.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(limit) } }));
    const [code] = (await once(socket, 'close')) as [number];
    expect(code).toBe(1009);
    expect(gw.logs.some((line) => line.includes('websocket closed on a protocol error'))).toBe(
      true,
    );

    const client = wsClient(gw.wsUrl, `Bearer ${KEY}`);
    const results = await collect(client.iterate({ query: STREAM, variables: say('still here') }));
    expect(results.map((r) => (r.data as any).completionStream.delta).join('')).toBe('still here');
  });

  it('logs one info line, no error and no stack, each time a client aborts its body', async () => {
    const before = gw.logs.length;
    const { port } = new URL(gw.url);
    const targets = [
      ['/graphql', ''],
      ['/v1/chat/completions', `Authorization: Bearer ${KEY}\r\n`],
    ] as const;
    const times = 3;
    for (let i = 0; i < times; i++) {
      for (const [path, extra] of targets) {
        const socket = connect(Number(port), '127.0.0.1');
        await once(socket, 'connect');
        // Headers and a tenth of the body; then the client is gone.
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}` +
            `Content-Length: 1000\r\n\r\n{"query":"{ __typ`,
          () => socket.destroy(),
        );
        await once(socket, 'close');
      }
    }
    const lines = () => gw.logs.slice(before);
    await vi.waitFor(() =>
      expect(lines().filter((l) => l.includes('aborted the request body'))).toHaveLength(
        times * targets.length,
      ),
    );
    for (const line of lines()) {
      const entry = JSON.parse(line) as { level: number; msg: string; err?: unknown };
      expect(entry.level).toBeLessThanOrEqual(30);
      expect(entry.err).toBeUndefined();
      expect(line).not.toContain('stack');
    }
    // And it keeps serving.
    const after = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(after.status).toBe(200);
  });
});
