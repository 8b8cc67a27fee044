/**
 * Every credential an edge may be handed: a client key (`auth.ts`), a session token minted by
 * a client's backend (`session-tokens.ts`), or a JWT of the app's identity provider
 * (`external-jwt.ts`). A bearer shaped like a JWT is a token when tokens are configured; any
 * other is a key. With no token settings, `authenticate` is the key check itself: nothing more
 * on the hot path.
 *
 * A verified token's caller is kept (bounded) until the token expires, so a token's repeat
 * costs a map lookup, not a signature check. Each use still checks that the token has not
 * expired and that its client is still there with the key the token was minted under (a map
 * lookup in the clients): a client removed or re-keyed loses its tokens at once.
 */
import { decodeJwt } from 'jose';
import type { Authenticator, ClientInfo } from '../auth.js';
import type { Config } from '../config/schema.js';
import { ErrorCodes, GatewayError } from '../gateway/errors.js';
import type { Caller } from '../gateway/types.js';
import { createExternalJwt } from './external-jwt.js';
import { narrowModels } from './models.js';
import { loadManifests } from './persisted.js';
import { createSessionTokens, unauthenticated, type SessionTokens } from './session-tokens.js';

export interface Access {
  /** Whether tokens are taken at all. */
  readonly tokens: boolean;
  /** Minting (`createSessionToken`); undefined when `auth.sessionTokens` is not set. */
  readonly sessions: SessionTokens | undefined;
  /** Whether some client lists its own `origins` (the per-client origin check is on). */
  readonly perClientOrigins: boolean;
  /**
   * The origins CORS answers (a preflight carries no credential): `server.cors.origins` and
   * every client's own.
   */
  readonly origins: ReadonlySet<string>;
  /** `Bearer <key or token>` → Caller; throws UNAUTHENTICATED saying why. */
  authenticate(authorization: string | null | undefined): Caller | Promise<Caller>;
  /**
   * Why a token's caller may call no more (expired, its client gone or re-keyed), for a
   * connection let in earlier; undefined while it may (and for key callers).
   */
  lapsed(caller: Caller): string | undefined;
  /**
   * Refuses (FORBIDDEN, 403) a browser request whose Origin its credential's client does not
   * list; clients that list none leave it to `server.cors.origins`.
   */
  checkOrigin(caller: Caller, origin: string | null | undefined): void;
  /** Whether some client may run only its persisted documents. */
  readonly persisted: boolean;
  /** The manifest of the caller's client when it is persisted (hash → document). */
  documentsOf(caller: Caller): ReadonlyMap<string, string> | undefined;
}

/** Verified tokens kept at most; past it the oldest go. */
const MAX_KEPT = 10_000;

/** `header.payload.signature`, each base64url; a JSON header starts `eyJ`. */
const jwtShape = /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/;

interface Kept {
  caller: Caller;
  /** The client as it was when `caller` was made: another object means it changed. */
  client: ClientInfo;
  make: (client: ClientInfo) => Caller;
}

export async function createAccess(config: Config, auth: Authenticator): Promise<Access> {
  const sessions = config.auth.sessionTokens
    ? await createSessionTokens(config.auth.sessionTokens)
    : undefined;
  const external = config.auth.jwt ? await createExternalJwt(config.auth.jwt) : undefined;
  // The origins of the clients in force: runtime clients may come and go, so this is made
  // again when the authenticator's version moves (a number compare per browser request).
  let originsOf = -1;
  let perClientOrigins = false;
  const origins = new Set<string>();
  const refreshOrigins = () => {
    if (auth.version === originsOf) return;
    originsOf = auth.version;
    perClientOrigins = auth.clients().some((c) => c.origins !== undefined);
    origins.clear();
    for (const origin of config.server.cors.origins) origins.add(origin);
    for (const client of auth.clients())
      for (const origin of client.origins ?? []) origins.add(origin);
  };
  refreshOrigins();
  // Config clients' manifests are read once; a runtime client's comes with it (and may change).
  const manifests = loadManifests(auth.clients());
  let persistedOf = -1;
  let runtimePersisted = false;
  const isPersisted = (): boolean => {
    if (manifests.size > 0) return true;
    if (auth.version !== persistedOf) {
      persistedOf = auth.version;
      runtimePersisted = auth.clients().some((c) => c.documents !== undefined && !c.revoked);
    }
    return runtimePersisted;
  };
  const documentsOf: Access['documentsOf'] = (caller) => {
    if (!isPersisted()) return undefined;
    return manifests.get(caller.clientId) ?? auth.client(caller.clientId)?.documents;
  };

  const checkOrigin: Access['checkOrigin'] = (caller, origin) => {
    if (!origin) return;
    refreshOrigins();
    if (!perClientOrigins) return;
    const listed = auth.client(caller.clientId)?.origins;
    if (!listed || listed.includes(origin)) return;
    throw new GatewayError(
      ErrorCodes.FORBIDDEN,
      `origin ${origin} is not allowed for client "${caller.clientId}"`,
      { origin, http: { status: 403 } },
    );
  };

  if (!sessions && !external) {
    return {
      tokens: false,
      sessions,
      get perClientOrigins() {
        refreshOrigins();
        return perClientOrigins;
      },
      get origins() {
        refreshOrigins();
        return origins;
      },
      // The key check itself (it reads no `this`).
      authenticate: auth.authenticate,
      lapsed: () => undefined,
      checkOrigin,
      get persisted() {
        return isPersisted();
      },
      documentsOf,
    };
  }

  const kept = new Map<string, Kept>();

  /** Why a token of this client, key and expiry is refused now; undefined: it is good. */
  function why(
    kind: string,
    clientId: string,
    keyId: string | undefined,
    exp: number,
  ): string | undefined {
    if (exp * 1000 <= Date.now()) return `${kind} expired`;
    const client = auth.client(clientId);
    if (!client || client.id === 'anonymous')
      return `${kind} names an unknown client "${clientId}"`;
    if (keyId !== undefined && client.keyId !== keyId)
      return `${kind} was minted under a key client "${clientId}" no longer has (its key changed or it was revoked)`;
    return undefined;
  }

  function use(token: string, entry: Kept): Caller {
    const grant = entry.caller.grant!;
    const kind = grant.kind === 'session' ? 'session token' : 'token';
    const reason = why(kind, entry.caller.clientId, grant.keyId, grant.expiresAt);
    if (reason) {
      kept.delete(token);
      throw unauthenticated(reason);
    }
    const client = auth.client(entry.caller.clientId)!;
    if (client !== entry.client) {
      entry.client = client;
      entry.caller = entry.make(client);
    }
    return entry.caller;
  }

  function keep(token: string, make: (client: ClientInfo) => Caller, clientId: string): Kept {
    const client = auth.client(clientId);
    // Checked by `use` right after: an unknown client is refused there.
    const entry: Kept = { caller: make(client ?? unknownClient), client: client!, make };
    if (kept.size >= MAX_KEPT) kept.delete(kept.keys().next().value!);
    kept.set(token, entry);
    return entry;
  }

  async function verify(token: string): Promise<Caller> {
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw unauthenticated('token is malformed');
    }
    if (sessions && issuer === sessions.issuer) {
      const { sub, exp, claims } = await sessions.verify(token);
      const make = (client: ClientInfo): Caller =>
        Object.freeze({
          clientId: claims.cid,
          // Scope CLIENT: the client's own rights (an admin client's dashboard); else never admin.
          admin: claims.scp === 'client' && client.admin,
          ...optionalModels(narrowModels(client.models, claims.models)),
          user: sub,
          grant: Object.freeze({
            kind: 'session' as const,
            expiresAt: exp,
            keyId: claims.kid,
            ...(claims.mtk !== undefined && { maxTokensPerRequest: claims.mtk }),
            ...(claims.bud !== undefined && { budgetUsd: claims.bud }),
            ...(claims.scp === 'client' && { scope: 'client' as const }),
          }),
        });
      return use(token, keep(token, make, claims.cid));
    }
    if (external && issuer === external.issuer) {
      const identity = await external.verify(token);
      const make = (client: ClientInfo): Caller =>
        Object.freeze({
          clientId: identity.clientId,
          admin: false,
          ...optionalModels(narrowModels(client.models, identity.models)),
          user: identity.user,
          grant: Object.freeze({ kind: 'jwt' as const, expiresAt: identity.exp }),
        });
      return use(token, keep(token, make, identity.clientId));
    }
    throw unauthenticated('token of an unknown issuer');
  }

  return {
    tokens: true,
    sessions,
    get perClientOrigins() {
      refreshOrigins();
      return perClientOrigins;
    },
    get origins() {
      refreshOrigins();
      return origins;
    },

    authenticate(authorization) {
      const bearer = authorization?.replace(/^Bearer\s+/i, '').trim();
      if (!bearer || !jwtShape.test(bearer)) return auth.authenticate(authorization);
      const entry = kept.get(bearer);
      return entry ? use(bearer, entry) : verify(bearer);
    },

    lapsed(caller) {
      const grant = caller.grant;
      if (!grant) return undefined;
      const kind = grant.kind === 'session' ? 'session token' : 'token';
      return why(kind, caller.clientId, grant.keyId, grant.expiresAt);
    },

    checkOrigin,
    get persisted() {
      return isPersisted();
    },
    documentsOf,
  };
}

const unknownClient: ClientInfo = {
  id: '',
  admin: false,
  models: [],
  budget: undefined,
  rateLimits: [],
  source: 'config',
  expiresAt: undefined,
  createdAt: undefined,
  revoked: false,
};

const optionalModels = (models: readonly string[] | undefined) => (models ? { models } : {});
