/**
 * createConduit(config) → { start, stop, url }: node:http serving GraphQL (Yoga, graphql-ws on
 * the same path, GraphQL over SSE), /healthz, /metrics and the dashboard (/dashboard). Stop drains: no new requests, the
 * in-flight ones and open streams finish (bounded), then sockets and stores close.
 *
 * Every body is read bounded (`http/body.ts`, `server.maxBodyBytes`; WebSocket messages too)
 * and every browser-facing route answers CORS from one list (`http/cors.ts`, `server.cors`).
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configAuditView } from './clients/config-view.js';
import { AuditActions } from './clients/registry.js';
import { isPersistedCaller } from './access/persisted-plugin.js';
import type { Config } from './config/schema.js';
import { createGraphQLHttp } from './graphql/transport/http.js';
import { createOperationRunner } from './graphql/transport/runner.js';
import { createWebSocketTransport } from './graphql/transport/websocket.js';
import { createConduitYoga } from './graphql/yoga.js';
import { BodyAborted } from './http/body.js';
import { createCors } from './http/cors.js';
import { createDashboard } from './http/dashboard.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, mayScrape, type Metrics } from './metrics.js';
import { handleOpenAI } from './rest/openai.js';
import { createInfrastructure, createServices, type Services } from './services.js';
import { withHead } from './http/head.js';
import { traceHttp } from './telemetry/http.js';
import { createTracing } from './telemetry/tracing.js';

/** How long shutdown waits for a WebSocket client to answer its close frame. */
const CLOSE_FRAME_WAIT_MS = 1_000;

/** What a provider's key rests and disabled marks are about: its upstream and its keys. */
const keyPoolOf = (provider: Config['providers'][string]): string =>
  JSON.stringify([provider.type, provider.baseUrl, provider.keys]);

export interface ConduitOptions {
  /** Where logs go (tests capture them); stdout by default. */
  logger?: Logger;
}

export interface Conduit {
  /** `http://host:port` once started. */
  readonly url: string;
  /** The services of the config in force now. */
  readonly services: Services;
  readonly metrics: Metrics;
  /**
   * Swaps in services built from a new config (keys, clients, models, limits, pricing); requests
   * already running finish on the old ones. Rate-limit windows of unchanged limits, spend and key
   * rests carry on; a client removed or given another key loses its open WebSockets (4403).
   * Server, Redis, database and cache settings need a restart; a change to them is logged and
   * otherwise ignored.
   */
  reload(config: Config): Promise<void>;
  start(port?: number, host?: string): Promise<string>;
  /**
   * Drains (bounded by `server.shutdownTimeoutMs`), cuts what is still open, waits for every
   * request's usage record, then closes the stores; resolves when everything is closed.
   */
  stop(): Promise<void>;
}

export async function createConduit(
  config: Config,
  options: ConduitOptions = {},
): Promise<Conduit> {
  const log = options.logger ?? createLogger(config.logging.level);
  // Undefined when tracing is off: then nothing of the SDK is loaded (docs/telemetry.md).
  const tracing = await createTracing(config.telemetry, {
    onExportError: (error) => log.warn({ err: error }, 'traces: an export failed'),
  });
  const metrics = createMetrics({ defaultMetrics: true });
  const infra = await createInfrastructure(config, log, metrics);
  let services = await createServices(config, infra);
  const yoga = createConduitYoga(() => services);
  const { maxBodyBytes } = config.server;
  // The server's origins and every client's own: a reload may change the clients'.
  const cors = createCors(() => services.access.origins);
  const runner = createOperationRunner(yoga);
  const graphql = createGraphQLHttp(yoga, {
    maxBodyBytes,
    cors,
    runner,
    leaveToYoga: (req) =>
      services.access.persisted && isPersistedCaller(services, req.headers.authorization),
  });
  const dashboard = createDashboard();

  let url = '';
  let stopping = false;
  let active = 0;
  const idle = new EventEmitter();
  const begin = () => {
    active++;
    metrics.inFlight.inc();
  };
  const end = () => {
    active--;
    metrics.inFlight.dec();
    if (active === 0) idle.emit('idle');
  };

  const server = createServer((req, res) => {
    if (stopping) {
      res.writeHead(503, { connection: 'close', 'content-type': 'application/json' });
      res.end('{"error":"shutting down"}');
      return;
    }
    begin();
    res.once('close', end);
    route(req, res).catch((error: unknown) => {
      if (error instanceof BodyAborted) {
        // The client's doing, and nobody is left to answer: one line, no stack.
        log.info({ path: req.url, method: req.method }, error.message);
        res.destroy();
        return;
      }
      log.error({ err: error, path: req.url }, 'request failed');
      if (!res.headersSent)
        res.writeHead(500, withHead(res, { 'content-type': 'application/json' }));
      res.end('{"error":"internal error"}');
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url?.split('?', 1)[0];
    if (path === '/graphql') {
      if (cors.preflight(req, res)) return;
      if (tracing) traceHttp(tracing, req, res, path);
      return graphql(req, res);
    }
    if (path?.startsWith('/v1/')) {
      if (cors.preflight(req, res)) return;
      if (tracing) traceHttp(tracing, req, res, path);
      cors.apply(req, res);
      return handleOpenAI(services, req, res, path);
    }
    if (path === '/dashboard' || path?.startsWith('/dashboard/')) return dashboard(req, res, path);
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      if (!mayScrape(services.config.metrics.token, req.headers.authorization)) {
        res.writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': 'Bearer realm="metrics"',
        });
        res.end('{"error":"/metrics needs Authorization: Bearer <metrics.token>"}');
        return;
      }
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `no route for ${req.method} ${path}` }));
  }

  const ws = createWebSocketTransport({
    server,
    yoga,
    services: () => services,
    maxPayload: maxBodyBytes,
    log,
    stopping: () => stopping,
    begin,
    end,
    runner,
    tracing,
  });
  const connections = ws.connections;
  // A runtime client changed (here or on another replica): its sockets are checked again (a
  // revoked or re-keyed client loses them, 4403), a new budget is seeded, expiries checked.
  infra.clients.onChange(() => {
    connections.recheck(services.auth);
    services
      .clientsChanged()
      .catch((error: unknown) => log.warn({ err: error }, 'runtime clients: follow-up failed'));
  });

  return {
    get url() {
      return url;
    },
    get services() {
      return services;
    },
    metrics,

    async reload(next) {
      for (const part of [
        'server',
        'redis',
        'database',
        'cache',
        'circuitBreaker',
        'telemetry',
      ] as const) {
        if (JSON.stringify(next[part]) !== JSON.stringify(services.config[part])) {
          log.warn({ part }, `reload: a change to ${part} needs a restart; it is ignored`);
        }
      }
      const fresh = await createServices(
        {
          ...next,
          server: config.server,
          redis: config.redis,
          database: config.database,
          cache: config.cache,
          circuitBreaker: config.circuitBreaker,
          telemetry: config.telemetry,
        },
        infra,
      );
      // Rate-limit windows and spend live in the infrastructure and carry on. Key rests (429)
      // and disabled marks (401) are kept by key position: a provider whose keys or upstream
      // changed starts afresh, the others keep theirs.
      for (const [name, provider] of Object.entries(next.providers)) {
        const was = services.config.providers[name];
        if (!was || keyPoolOf(was) !== keyPoolOf(provider)) await infra.cooldowns.reset(name);
      }
      const was = services.config;
      services = fresh;
      // A client removed or given another key loses its open WebSockets now.
      const closed = connections.recheck(fresh.auth, fresh.access.lapsed);
      await infra.clients
        .audit({
          actor: 'config',
          action: AuditActions.RELOAD,
          target: null,
          before: configAuditView(was),
          after: configAuditView(fresh.config),
        })
        .catch((error: unknown) => log.error({ err: error }, 'reload: the audit record failed'));
      log.info(
        { providers: Object.keys(next.providers), clients: next.clients.length, closed },
        'config reloaded',
      );
    },

    async start(port = config.server.port, host = config.server.host) {
      server.listen(port, host);
      await once(server, 'listening');
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${shownHost}:${address.port}`;
      return url;
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) {
        const timeout = AbortSignal.timeout(config.server.shutdownTimeoutMs);
        await once(idle, 'idle', { signal: timeout }).catch(() => {
          log.warn({ active }, 'shutdown: gave up waiting for in-flight requests');
        });
      }
      // Cut what is still open: a cut request records what it delivered on its way out, and
      // infra.close() closes the usage store only once every request has recorded. A WebSocket
      // client that does not answer the close frame is cut without one.
      await ws.close(CLOSE_FRAME_WAIT_MS);
      server.closeAllConnections();
      await closed;
      // Key probes still waiting would call an upstream through a closed transport.
      services.keys.close();
      // The last spans are exported, even when closing a store fails.
      await infra.close().finally(() =>
        tracing?.shutdown().catch((error: unknown) => {
          log.warn({ err: error }, 'shutdown: exporting the last spans failed');
        }),
      );
    },
  };
}
