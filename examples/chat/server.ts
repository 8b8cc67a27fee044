/**
 * The chat example's backend: it serves the built page and, for the signed-in user, mints a
 * short-lived session token with the app's own client key. The key stays here; the page only
 * ever holds tokens, each bound to one user and narrower than the key.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

export interface ChatBackendOptions {
  /** Conduit's base URL, e.g. http://127.0.0.1:4000. */
  conduitUrl: string;
  /** The app's client key; undefined when the gateway is open (no clients configured). */
  clientKey: string | undefined;
  /** The built page (examples/chat/dist). */
  distDir: string;
  /** Who is signed in. A real app reads its own session cookie here. */
  userOf?: (request: IncomingMessage) => string;
}

export interface ChatBackend {
  url: string;
  close(): Promise<void>;
}

const MINT = `mutation Mint($input: SessionTokenInput!) {
  createSessionToken(input: $input) { token expiresAt }
}`;

export async function startChatBackend(
  options: ChatBackendOptions,
  port = 0,
  host = '127.0.0.1',
): Promise<ChatBackend> {
  const userOf = options.userOf ?? (() => 'demo-user');
  const wsUrl = `${options.conduitUrl.replace(/^http/, 'ws')}/graphql`;

  async function session(request: IncomingMessage, response: ServerResponse) {
    const user = userOf(request);
    if (!options.clientKey) return json(response, 200, { token: null, wsUrl, user });
    const minted = await fetch(`${options.conduitUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${options.clientKey}`,
      },
      body: JSON.stringify({ query: MINT, variables: { input: { user, ttlSeconds: 900 } } }),
    });
    const body = (await minted.json()) as {
      data?: { createSessionToken: { token: string } };
      errors?: { message: string }[];
    };
    const token = body.data?.createSessionToken.token;
    if (!token) return json(response, 502, { error: body.errors?.[0]?.message ?? 'no token' });
    json(response, 200, { token, wsUrl, user });
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const done = (error: unknown) => {
      if (!response.headersSent) json(response, 500, { error: (error as Error).message });
      else response.destroy();
    };
    if (path === '/api/session' && request.method === 'POST') {
      session(request, response).catch(done);
    } else if (request.method === 'GET' || request.method === 'HEAD') {
      serveFile(options.distDir, path, response).catch(done);
    } else {
      json(response, 405, { error: 'method not allowed' });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A file of the built page; any other path gets the page itself (one route, so it's simple). */
async function serveFile(root: string, path: string, response: ServerResponse) {
  let file = normalize(join(root, decodeURIComponent(path)));
  if (!file.startsWith(root + sep)) file = join(root, 'index.html');
  const found = await stat(file).catch(() => undefined);
  if (!found?.isFile()) file = join(root, 'index.html');
  response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(response);
}

function json(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
