/**
 * The dashboard at /dashboard: the single-page app `npm run build` writes to dist/web (Vite, from
 * web/), served as files. Its assets have content hashes in their names and are cached for good;
 * index.html is never cached. Nothing else on disk is reachable: a name must be one of the built
 * files. Not built (a checkout without `npm run build`): a 404 that says so.
 */
import { readFile, readdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/web, from src/http (tests) and dist/http (built) alike. */
export const dashboardDir = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** The page talks to this server alone (HTTP and WebSocket); inline style attributes for charts. */
const securityHeaders = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface Built {
  index: Buffer;
  assets: Map<string, Buffer>;
}

export type DashboardHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
) => Promise<void>;

export function createDashboard(dir = dashboardDir): DashboardHandler {
  let built: Promise<Built | null> | undefined;
  const load = async (): Promise<Built | null> => {
    try {
      const index = await readFile(join(dir, 'index.html'));
      const assets = new Map<string, Buffer>();
      for (const name of await readdir(join(dir, 'assets')).catch(() => [])) {
        assets.set(name, await readFile(join(dir, 'assets', name)));
      }
      return { index, assets };
    } catch {
      return null;
    }
  };

  return async (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end('{"error":"the dashboard answers GET only"}');
      return;
    }
    if (path === '/dashboard') {
      res.writeHead(308, { location: '/dashboard/' });
      res.end();
      return;
    }
    // Read once; a failed read (not built yet) is tried again on the next request.
    const files = await (built ??= load());
    if (!files) {
      built = undefined;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The dashboard is not built: run `npm run build`, then start Conduit again.\n');
      return;
    }
    const asset = path.startsWith('/dashboard/assets/')
      ? files.assets.get(path.slice('/dashboard/assets/'.length))
      : undefined;
    if (asset) {
      res.writeHead(200, {
        'content-type': types[extname(path)] ?? 'application/octet-stream',
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : asset);
      return;
    }
    if (path.startsWith('/dashboard/assets/')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"no such dashboard file"}');
      return;
    }
    // Any other path under /dashboard/ is the app's own.
    res.writeHead(200, {
      'content-type': types['.html']!,
      'cache-control': 'no-cache',
      ...securityHeaders,
    });
    res.end(req.method === 'HEAD' ? undefined : files.index);
  };
}
