/**
 * The graphql-ws connections let in, by client id, with the operations each runs. A reload
 * checks every connection's key against the new clients: one whose key no longer lets the same
 * client in (the client removed, or given another key) is closed at once with 4403 Forbidden;
 * the others carry on with the client's new rights (models, admin). A connection that closes
 * aborts the operations it still runs, as an HTTP client leaving aborts its request.
 */
import { CloseCode, type Context } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Authenticator } from './auth.js';
import type { Cancel } from './gateway/cancel.js';
import type { Caller } from './gateway/types.js';

/** What a connection carries between graphql-ws's hooks. A type alias, not an interface:
 * graphql-ws wants an index signature. */
export type SocketExtra = {
  socket: WebSocket;
  /** The upgrade request's Origin: all of the request a connection keeps (onConnect checks it). */
  origin: string | undefined;
  caller?: Caller;
  /** The operations running, each with its own Cancel (the gateway may abort it itself). */
  operations?: Map<string, Cancel>;
  /** Which of `operations` are feeds (subscriptions that never end on their own). */
  feeds?: Set<string>;
  /** A token's connection: the timer set at the token's expiry. */
  expiry?: NodeJS.Timeout;
  /** Why its credential no longer holds (the token expired): it starts nothing more. */
  lapsed?: string;
};

export type Connection = Context<Record<string, unknown>, SocketExtra>;

export interface Connections {
  /** A connection `onConnect` let in, as `ctx.extra.caller`. */
  add(ctx: Connection): void;
  /** The connection closed: forgotten, and what it still runs is aborted. */
  closed(ctx: Connection): void;
  /**
   * Closes (4403) every connection whose key `auth` no longer lets in as the same client, and
   * gives the others the client's current rights. Returns how many it closed.
   */
  recheck(auth: Authenticator, lapsed?: (caller: Caller) => string | undefined): number;
  /** Whether the connection may start an operation: open, and not closed by `recheck`. */
  isOpen(ctx: Connection): boolean;
}

/** The key a connection sent in its `connection_init` payload, as `onConnect` reads it. */
function authorizationOf(ctx: Connection): string | undefined {
  const authorization = ctx.connectionParams?.authorization;
  return typeof authorization === 'string' ? authorization : undefined;
}

export function createConnections(): Connections {
  const byClient = new Map<string, Set<Connection>>();

  const forget = (ctx: Connection, clientId: string | undefined): void => {
    if (clientId === undefined) return;
    const open = byClient.get(clientId);
    if (open?.delete(ctx) && open.size === 0) byClient.delete(clientId);
  };

  return {
    add(ctx) {
      const clientId = ctx.extra.caller?.clientId;
      if (clientId === undefined) return;
      let open = byClient.get(clientId);
      if (!open) byClient.set(clientId, (open = new Set()));
      open.add(ctx);
    },

    closed(ctx) {
      forget(ctx, ctx.extra.caller?.clientId);
      for (const cancel of ctx.extra.operations?.values() ?? []) cancel.abort();
    },

    recheck(auth, lapsed) {
      let closed = 0;
      for (const [clientId, open] of [...byClient]) {
        for (const ctx of [...open]) {
          // A token's connection: kept while the token holds (its client there, same key).
          const grantee = ctx.extra.caller?.grant ? ctx.extra.caller : undefined;
          if (grantee) {
            const reason = lapsed?.(grantee);
            if (reason === undefined) continue;
            forget(ctx, clientId);
            ctx.extra.socket.close(CloseCode.Unauthorized, reason.slice(0, 120));
            closed++;
            continue;
          }
          let caller: Caller | undefined;
          try {
            caller = auth.authenticate(authorizationOf(ctx));
          } catch {
            caller = undefined;
          }
          if (caller?.clientId === clientId) {
            ctx.extra.caller = caller;
            continue;
          }
          forget(ctx, clientId);
          // A client that ignores the close frame may still send: `isOpen` refuses it then.
          ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden');
          closed++;
        }
      }
      return closed;
    },

    isOpen: (ctx) => ctx.extra.socket.readyState === ctx.extra.socket.OPEN,
  };
}
