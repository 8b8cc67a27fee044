/**
 * GraphQL over WebSocket (graphql-ws) on `/graphql`, through the same operation runner as HTTP.
 * The key is checked once, at connection (`connection_init`'s `authorization`): a missing or
 * wrong one closes the socket with 4401 Unauthorized, which graphql-ws clients take as final
 * (4403, graphql-ws's own answer to `false`, they retry). A message larger than a request body
 * may be closes its socket with 1009 (Message Too Big). Each operation runs on its own Cancel,
 * aborted when its connection closes; a reload closes the connections of a client removed or
 * given another key (`ws-connections.ts`).
 *
 * A connection let in by a token (a session token, an identity provider's JWT) lasts as long as
 * the token: from its expiry on, operations it starts are refused, and the socket is closed with
 * 4401 and the reason ("session token expired") as soon as no answer it asked for is still on
 * its way (a query, a mutation or a completion stream in flight finishes first; a feed such as
 * `requestEvents`, which never ends on its own, does not hold the socket open).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { getOperationAST, GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import { WebSocket, WebSocketServer } from 'ws';
import { resolvePersisted } from '../../access/persisted.js';
import { Cancel } from '../../gateway/cancel.js';
import { GatewayError } from '../../gateway/errors.js';
import type { Logger } from '../../log.js';
import type { Services } from '../../services.js';
import type { Tracing } from '../../telemetry/tracing.js';
import { traceOperation } from '../../telemetry/websocket.js';
import {
  createConnections,
  type Connection,
  type Connections,
  type SocketExtra,
} from '../../ws-connections.js';
import type { ConduitYoga } from '../yoga.js';
import { createOperationRunner, type OperationRunner, type Started } from './runner.js';

export interface WebSocketOptions {
  server: Server;
  yoga: ConduitYoga;
  /** The services in force now (a reload swaps them). */
  services: () => Services;
  /** The largest message (`server.maxBodyBytes`). */
  maxPayload: number;
  log: Logger;
  /** Whether the server is shutting down: no new connection then. */
  stopping: () => boolean;
  /** An operation starts and ends: counted in flight, for the shutdown to wait on. */
  begin: () => void;
  end: () => void;
  /** The runner shared with the other edges; one over `yoga` by default. */
  runner?: OperationRunner;
  /** The tracer when tracing is on: a span per operation (`telemetry/websocket.ts`). */
  tracing?: Tracing | undefined;
}

export interface WebSocketTransport {
  readonly connections: Connections;
  /** Closes every socket (1001); one whose client does not answer within `waitMs` is cut. */
  close(waitMs: number): Promise<void>;
}

/**
 * Past this many bytes waiting in a socket's buffer, a message counts as sent only once written.
 */
const highWaterBytes = 64 * 1024;

/** The longest a timer may wait (setTimeout's ceiling); a later expiry is looked at again then. */
const maxTimerMs = 2 ** 31 - 1;

/**
 * graphql-ws's keep-alive (its `ws` binding's default): every socket is pinged this often, and
 * one that has not answered by the next round is cut.
 */
const keepAliveMs = 12_000;

type SendCallback = (error?: Error) => void;
type SendOptions = Exclude<Parameters<WebSocket['send']>[1], SendCallback | undefined>;

/**
 * A socket whose messages of one event-loop turn leave in one write, as SSE events do
 * (`http/sse.ts`). graphql-ws awaits each message's write callback before it takes the next
 * result of a subscription (`await socket.send(…)` in its `ws` binding), so every event cost
 * a socket write and a turn of the event loop: a fifth of a stream's CPU was `writev`. Here a
 * message is done as soon as it is queued, while the socket's buffer holds less than
 * `highWaterBytes` (beyond that graphql-ws waits for the write, so a slow client still holds
 * its subscriptions back); the socket is corked from the first message of a turn to its end.
 */
class BatchingWebSocket extends WebSocket {
  /** The connection under the socket (set once upgraded). */
  raw: Duplex | undefined;
  /** Pinged by the keep-alive round and not answered yet. */
  unanswered = false;
  #corked = false;

  override send(
    data: Parameters<WebSocket['send']>[0],
    options?: SendOptions | SendCallback,
    cb?: SendCallback,
  ): void {
    const opts = typeof options === 'object' ? options : {};
    const done = typeof options === 'function' ? options : cb;
    const raw = this.raw;
    if (!raw || this.readyState !== WebSocket.OPEN) return super.send(data, opts, done);
    if (!this.#corked) {
      this.#corked = true;
      raw.cork();
      process.nextTick(() => {
        this.#corked = false;
        raw.uncork();
      });
    }
    if (!done || this.bufferedAmount >= highWaterBytes) return super.send(data, opts, done);
    super.send(data, opts);
    done();
  }
}

export function createWebSocketTransport(options: WebSocketOptions): WebSocketTransport {
  const { server, yoga, services, log, begin, end, tracing } = options;
  const runner = options.runner ?? createOperationRunner(yoga);
  const wsServer = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    WebSocket: BatchingWebSocket,
    handleProtocols,
  });

  server.on('upgrade', (req, socket, head) => {
    if (options.stopping() || req.url?.split('?', 1)[0] !== '/graphql') {
      socket.destroy();
      return;
    }
    wsServer.handleUpgrade(req, socket, head, (ws) => {
      (ws as BatchingWebSocket).raw = socket;
      wsServer.emit('connection', ws, req);
    });
  });

  /** What each operation's arguments were started with, for graphql-ws's execute/subscribe. */
  const running = new WeakMap<ExecutionArgs, Started>();

  const connections = createConnections();

  /**
   * The connection's credential no longer holds: nothing more starts on it, and it closes
   * (4401, saying why) once the answers it has in flight are done.
   */
  function lapse(ctx: Connection, reason: string): void {
    ctx.extra.lapsed ??= reason;
    if (!answering(ctx)) closeLapsed(ctx);
  }
  /** How many of the connection's operations are answers still on their way (not feeds). */
  const answering = (ctx: Connection): number =>
    (ctx.extra.operations?.size ?? 0) - (ctx.extra.feeds?.size ?? 0);
  const closeLapsed = (ctx: Connection): void =>
    ctx.extra.socket.close(CloseCode.Unauthorized, closeReason(ctx.extra.lapsed!));

  /** A token's connection: a timer at the token's expiry. */
  function watchExpiry(ctx: Connection): void {
    const caller = ctx.extra.caller;
    const expiresAt = caller?.grant?.expiresAt;
    if (!caller || expiresAt === undefined) return;
    const wait = Math.min(Math.max(0, expiresAt * 1000 - Date.now()), maxTimerMs);
    ctx.extra.expiry = setTimeout(() => {
      const reason = services().access.lapsed(caller);
      if (reason === undefined) watchExpiry(ctx);
      else lapse(ctx, reason);
    }, wait);
    ctx.extra.expiry.unref();
  }
  const disposable = serve(
    {
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const { access } = services();
        try {
          const who = access.authenticate(
            typeof authorization === 'string' ? authorization : undefined,
          );
          const caller = who instanceof Promise ? await who : who;
          access.checkOrigin(caller, ctx.extra.origin);
          ctx.extra.caller = caller;
          connections.add(ctx);
          watchExpiry(ctx);
          return true;
        } catch (error) {
          // A token's refusal says why (expired, bad signature…); a key's says no more.
          const forbidden = GatewayError.isInstance(error) && error.code === 'FORBIDDEN';
          const reason =
            GatewayError.isInstance(error) && !forbidden && typeof authorization === 'string'
              ? closeReason(error.message)
              : forbidden
                ? 'Forbidden'
                : 'Unauthorized';
          ctx.extra.socket.close(forbidden ? CloseCode.Forbidden : CloseCode.Unauthorized, reason);
          return false;
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        // A connection closed by a reload (or the shutdown) runs nothing more, even if its
        // client ignores the close frame.
        if (!connections.isOpen(ctx)) return [new GraphQLError('the connection is closing')];
        // A token's connection ends with its token, or when its client is removed or re-keyed.
        const lapsed =
          ctx.extra.lapsed ??
          (ctx.extra.caller?.grant && services().access.lapsed(ctx.extra.caller));
        if (lapsed) {
          lapse(ctx, lapsed);
          return [new GraphQLError(lapsed, { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        // Runs on its own Cancel, aborted when the connection closes, and counts as in flight
        // from now: a mutation reaches onOperation only once it has run.
        // A persisted-only client: its document by the id it sends, before anything is parsed.
        let query = payload.query;
        const documents = ctx.extra.caller && services().access.documentsOf(ctx.extra.caller);
        if (documents) {
          const resolved = resolvePersisted(documents, {
            ...payload,
            documentId: (payload as { documentId?: unknown }).documentId,
          });
          if ('code' in resolved)
            return [new GraphQLError(resolved.message, { extensions: { code: resolved.code } })];
          query = resolved.query;
        }
        const cancel = new Cancel();
        const checked = runner.check(
          {
            query,
            variables: payload.variables ?? null,
            operationName: payload.operationName ?? null,
            extensions: payload.extensions ?? null,
          },
          { caller: ctx.extra.caller, cancel },
        );
        if ('errors' in checked) return [...checked.errors];
        const started = await runner.start(checked);
        if ('refused' in started) return [started.refused];
        // Before it runs: the gateway finds the span on the operation's Cancel.
        if (tracing && checked.operation)
          traceOperation(
            tracing,
            cancel,
            checked.operation,
            ctx.connectionParams,
            payload.extensions,
          );
        running.set(started.args, started);
        (ctx.extra.operations ??= new Map()).set(id, cancel);
        // Only a token's connection lapses; it does not wait for its feeds then.
        if (ctx.extra.caller?.grant && isFeed(started.args))
          (ctx.extra.feeds ??= new Set()).add(id);
        begin();
        return started.args;
      },
      execute: (args) => {
        const started = running.get(args);
        return started ? runner.execute(started) : { errors: [new GraphQLError('not started')] };
      },
      subscribe: (args) => {
        const started = running.get(args);
        return started ? runner.subscribe(started) : { errors: [new GraphQLError('not started')] };
      },
      onComplete: (ctx, id) => {
        const cancel = ctx.extra.operations?.get(id);
        if (cancel) {
          ctx.extra.operations!.delete(id);
          cancel.span?.end();
          end();
        }
        ctx.extra.feeds?.delete(id);
        // The last answer of a lapsed connection: closed once its `complete` has gone out.
        if (ctx.extra.lapsed !== undefined && !answering(ctx)) setImmediate(closeLapsed, ctx);
      },
      onClose: (ctx) => {
        clearTimeout(ctx.extra.expiry);
        connections.closed(ctx);
      },
    },
    wsServer,
    log,
  );

  return {
    connections,
    async close(waitMs) {
      const unanswered = setTimeout(() => {
        for (const socket of wsServer.clients) socket.terminate();
      }, waitMs);
      await disposable.dispose();
      clearTimeout(unanswered);
    },
  };
}

/**
 * graphql-ws on the sockets of `wsServer`, as its own `ws` binding (`graphql-ws/use/ws`) runs
 * it, but keeping less per socket, which 10,000 sockets multiply (issue 13): of the upgrade
 * request only its Origin (the binding keeps the whole request for the socket's life), one
 * keep-alive round for every socket (the binding keeps an interval and a timeout per socket),
 * one listener less. A socket's
 * 'error' is the client's doing (a message too big, a broken frame), and ws has already closed
 * it with the code that says so: one info line, where the binding prints an internal error.
 */
function serve(
  options: ServerOptions<Record<string, unknown>, SocketExtra>,
  wsServer: WebSocketServer,
  log: Logger,
): { dispose(): Promise<void> } {
  const graphqlWs = makeServer(options);
  const protocolError = (error: Error & { code?: string }) =>
    log.info({ code: error.code, reason: error.message }, 'websocket closed on a protocol error');

  wsServer.on('connection', (socket: BatchingWebSocket, request: IncomingMessage) => {
    socket.on('error', protocolError);
    socket.on('pong', answered);
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise((resolve, reject) => {
            if (socket.readyState !== WebSocket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            handle(String(data)).catch((error: unknown) => {
              // A failure of ours, not the client's: closed 1011, as the binding does.
              log.error({ err: error }, 'websocket message handling failed');
              const message = error instanceof Error ? error.message : String(error);
              const shown =
                process.env.NODE_ENV !== 'production' && Buffer.byteLength(message) <= 123;
              socket.close(
                CloseCode.InternalServerError,
                shown ? message : 'Internal server error',
              );
            });
          }),
      },
      { socket, origin: request.headers.origin },
    );
    socket.on('close', (code, reason) => void closed(code, String(reason)));
  });

  // Every open socket pinged every `keepAliveMs`; one that has not answered the last ping by
  // the next round is cut.
  const keepAlive = setInterval(() => {
    for (const socket of wsServer.clients as Set<BatchingWebSocket>) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (socket.unanswered) {
        socket.terminate();
        continue;
      }
      socket.unanswered = true;
      socket.ping();
    }
  }, keepAliveMs);
  keepAlive.unref();

  return {
    async dispose() {
      clearInterval(keepAlive);
      for (const socket of wsServer.clients) socket.close(1001, 'Going away');
      wsServer.removeAllListeners();
      await new Promise<void>((resolve, reject) =>
        wsServer.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** The keep-alive's pong: the socket answered (`this`, as EventEmitter calls a listener). */
function answered(this: WebSocket): void {
  (this as BatchingWebSocket).unanswered = false;
}

/**
 * A subscription that never ends on its own (`requestEvents`, `providerHealth`): anything but a
 * completion stream. A lapsed connection does not wait for it.
 */
function isFeed(args: ExecutionArgs): boolean {
  const operation = getOperationAST(args.document, args.operationName);
  if (operation?.operation !== 'subscription') return false;
  return !operation.selectionSet.selections.every(
    (selection) => selection.kind === 'Field' && selection.name.value === 'completionStream',
  );
}

/** A close frame's reason holds 123 bytes at most. */
function closeReason(message: string): string {
  return Buffer.byteLength(message) <= 123 ? message : `${message.slice(0, 119)}…`;
}
