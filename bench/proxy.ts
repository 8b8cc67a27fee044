/**
 * The floor: a bare pass-through proxy (node:http + undici's own API, one keep-alive Pool with
 * the same settings as Conduit's transport). It reads the body, forwards its bytes unparsed to
 * the upstream, and sends the answer back: whole when it is JSON, chunk by chunk when it is a
 * stream. No auth, no limits, no accounting: what any proxy in Node costs at least.
 *
 * Run as its own process by bench/run.ts with the upstream's URL; it reports its port over IPC.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const upstream = process.argv[2];
if (!upstream) throw new Error('usage: proxy.ts <upstream origin>');
const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

const server = createServer((req, res) => {
  void (async () => {
    const body = await readBody(req);
    const answer = await pool.request({
      method: 'POST',
      path: req.url ?? '/',
      headers: {
        'content-type': 'application/json',
        accept: req.headers.accept ?? 'application/json',
        authorization: 'Bearer sk-mock',
      },
      body,
    });
    const type = String(answer.headers['content-type'] ?? 'application/json');
    if (type.startsWith('text/event-stream')) {
      res.writeHead(answer.statusCode, { 'content-type': type, 'cache-control': 'no-cache' });
      for await (const chunk of answer.body) {
        if (!res.write(chunk as Buffer)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return;
    }
    const whole = Buffer.from(await answer.body.arrayBuffer());
    res.writeHead(answer.statusCode, { 'content-type': type, 'content-length': whole.length });
    res.end(whole);
  })().catch(() => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
// An orderly exit on SIGTERM, so that --cpu-prof (bench/profile.ts proxy … DIR) writes its profile.
process.on('SIGTERM', () => process.exit(0));
