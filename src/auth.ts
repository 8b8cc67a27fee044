/**
 * Bearer key → Caller. Keys are held only as SHA-256 digests and compared in constant time;
 * with no clients at all (none configured, none ever made at run time), every call is let in as
 * the admin `anonymous`.
 *
 * Clients come from the config file and, at run time, from the registry of `clients/` (made by
 * the admin mutations, kept in the usage database): the authenticator rebuilds its list when
 * the registry's version moves, so a change is seen at the next request. A key may carry an
 * expiry; a rotated runtime key lets its predecessor in until the grace period ends.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { RuntimeClient } from './clients/model.js';
import type { ClientConfig, RateLimit } from './config/schema.js';
import { ErrorCodes, GatewayError } from './gateway/errors.js';
import type { Caller } from './gateway/types.js';

export type ClientSource = 'config' | 'runtime';

export interface ClientInfo {
  id: string;
  admin: boolean;
  models: readonly string[] | undefined;
  budget: ClientConfig['budget'];
  rateLimits: readonly RateLimit[];
  /** Where the client is defined: the config file, or the runtime registry. */
  source: ClientSource;
  /** When its key stops working; undefined: never. */
  expiresAt: Date | undefined;
  /** Runtime clients only. */
  createdAt: Date | undefined;
  /** A revoked runtime client: listed, never let in. */
  revoked: boolean;
  /**
   * A short fingerprint of the client's key (never the key): session tokens carry it, and a
   * token whose client has another key now is refused. Undefined for `anonymous`.
   */
  keyId?: string | undefined;
  /** Browser origins its credentials may be used from; undefined: `server.cors.origins`. */
  origins?: readonly string[] | undefined;
  /** Whether it may send any document or only its manifest's, by hash (config clients). */
  operations?: ClientConfig['operations'];
  /**
   * A runtime client limited to trusted documents: its manifest (hash → document). A config
   * client's is read from its file by `access/persisted.ts`.
   */
  documents?: ReadonlyMap<string, string> | undefined;
}

/** The runtime clients as the registry holds them (`clients/registry.ts`). */
export interface RuntimeClients {
  /** Moves whenever the set changes. */
  readonly version: number;
  list(): readonly RuntimeClient[];
}

export interface Authenticator {
  /** True when there are no clients at all: calls are open. */
  readonly open: boolean;
  /** Moves whenever the runtime clients change (what is derived from the list is made again). */
  readonly version: number;
  /** `Bearer <key>` (or the bare key) → Caller; throws UNAUTHENTICATED. */
  authenticate(authorization: string | undefined | null): Caller;
  client(id: string): ClientInfo | undefined;
  clients(): readonly ClientInfo[];
}

/** A string digest is several times quicker to make than a Buffer one (node:crypto `hash`). */
const sha256 = (text: string): Buffer => Buffer.from(hash('sha256', text, 'hex'), 'hex');

/** The fingerprint of a key's SHA-256 (hex): 12 characters of a hash of it. */
export const keyIdOf = (keySha256: string): string =>
  hash('sha256', `conduit-key-id:${keySha256.toLowerCase()}`, 'base64url').slice(0, 12);

export const anonymous: Caller = Object.freeze({ clientId: 'anonymous', admin: true });

interface Entry {
  digest: Buffer;
  caller: Caller;
  info: ClientInfo;
  /** Epoch ms the key stops working. */
  expiresAt: number | undefined;
  /** A rotated-out key: epoch ms its grace period ends. */
  graceUntil: number | undefined;
}

const callerOf = (info: ClientInfo): Caller =>
  Object.freeze({
    clientId: info.id,
    admin: info.admin,
    ...(info.models && { models: Object.freeze([...info.models]) }),
  }) as Caller;

function configEntry(c: ClientConfig): Entry {
  const expiresAt = c.expiresAt === undefined ? undefined : Date.parse(c.expiresAt);
  const info: ClientInfo = {
    id: c.id,
    admin: c.admin,
    models: c.models,
    budget: c.budget,
    rateLimits: c.rateLimits,
    source: 'config',
    expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt),
    createdAt: undefined,
    revoked: false,
    keyId: keyIdOf(c.keySha256 ?? hash('sha256', c.key!, 'hex')),
    origins: c.origins,
    operations: c.operations,
  };
  return {
    digest: c.keySha256 ? Buffer.from(c.keySha256, 'hex') : sha256(c.key!),
    caller: callerOf(info),
    info,
    expiresAt,
    graceUntil: undefined,
  };
}

function runtimeEntries(c: RuntimeClient): { info: ClientInfo; entries: Entry[] } {
  const info: ClientInfo = {
    id: c.id,
    admin: c.admin,
    models: c.models,
    budget: c.budget,
    rateLimits: c.rateLimits,
    source: 'runtime',
    expiresAt: c.expiresAt === null ? undefined : new Date(c.expiresAt),
    createdAt: new Date(c.createdAt),
    revoked: c.revokedAt !== null,
    // A rotation or a revocation changes it, which ends the client's session tokens.
    keyId: c.revokedAt === null ? keyIdOf(c.keySha256) : undefined,
    origins: c.origins.length > 0 ? c.origins : undefined,
    ...(c.operations === 'persisted' && c.manifest
      ? { documents: new Map(Object.entries(c.manifest)) }
      : { operations: { mode: 'arbitrary' as const } }),
  };
  const caller = callerOf(info);
  const expiresAt = c.expiresAt ?? undefined;
  const entries: Entry[] = [
    { digest: Buffer.from(c.keySha256, 'hex'), caller, info, expiresAt, graceUntil: undefined },
  ];
  if (c.previousKeySha256 && c.previousKeyUntil !== null) {
    entries.push({
      digest: Buffer.from(c.previousKeySha256, 'hex'),
      caller,
      info,
      expiresAt,
      graceUntil: c.previousKeyUntil,
    });
  }
  return { info, entries };
}

export function createAuthenticator(
  configs: readonly ClientConfig[],
  runtime?: RuntimeClients,
): Authenticator {
  const fromConfig = configs.map(configEntry);
  const configIds = new Set(configs.map((c) => c.id));
  let entries = fromConfig;
  let byId = new Map(fromConfig.map((e) => [e.info.id, e.info]));
  let built = -1;

  /** The list again, when the registry changed since it was last built. */
  const current = (): Entry[] => {
    if (runtime && runtime.version !== built) {
      built = runtime.version;
      const next = [...fromConfig];
      const ids = new Map(fromConfig.map((e) => [e.info.id, e.info]));
      for (const client of runtime.list()) {
        // A config client keeps its id: a reload may have added one a runtime client had.
        if (configIds.has(client.id)) continue;
        const { info, entries: own } = runtimeEntries(client);
        ids.set(info.id, info);
        if (!info.revoked) next.push(...own);
        else next.push({ ...own[0]!, graceUntil: undefined });
      }
      entries = next;
      byId = ids;
    }
    return entries;
  };
  const isOpen = (): boolean => current().length === 0;

  return {
    get open() {
      return isOpen();
    },
    get version() {
      current();
      return built;
    },

    authenticate(authorization) {
      const all = current();
      if (all.length === 0) return anonymous;
      const key = authorization?.replace(/^Bearer\s+/i, '').trim();
      if (!key)
        throw new GatewayError(
          ErrorCodes.UNAUTHENTICATED,
          'missing API key: send Authorization: Bearer <key>',
        );
      const digest = sha256(key);
      // Compare against every client, so the time taken says nothing about which one matched.
      let found: Entry | undefined;
      for (const entry of all) {
        if (timingSafeEqual(entry.digest, digest)) found = entry;
      }
      if (!found) throw new GatewayError(ErrorCodes.UNAUTHENTICATED, 'invalid API key');
      if (found.info.revoked) throw new GatewayError(ErrorCodes.UNAUTHENTICATED, 'API key revoked');
      if (found.expiresAt !== undefined || found.graceUntil !== undefined) refuseStale(found);
      return found.caller;
    },

    client(id) {
      current();
      return byId.get(id) ?? (id === anonymous.clientId ? anonymousInfo : undefined);
    },
    clients() {
      if (isOpen()) return [anonymousInfo];
      return [...byId.values()];
    },
  };
}

/** Throws for a key past its expiry, or a rotated-out key past its grace period. */
function refuseStale(entry: Entry): void {
  const now = Date.now();
  if (entry.graceUntil !== undefined && now >= entry.graceUntil)
    throw new GatewayError(
      ErrorCodes.UNAUTHENTICATED,
      `API key replaced: its grace period ended at ${new Date(entry.graceUntil).toISOString()}`,
    );
  if (entry.expiresAt !== undefined && now >= entry.expiresAt)
    throw new GatewayError(
      ErrorCodes.UNAUTHENTICATED,
      `API key expired at ${new Date(entry.expiresAt).toISOString()}`,
    );
}

const anonymousInfo: ClientInfo = {
  id: 'anonymous',
  admin: true,
  models: undefined,
  budget: undefined,
  rateLimits: [],
  source: 'config',
  expiresAt: undefined,
  createdAt: undefined,
  revoked: false,
};

/** Whether a caller may call this model: an alias by name, `provider/model` by name or glob. */
export function mayUseModel(caller: Caller, requested: string): boolean {
  if (!caller.models) return true;
  return caller.models.some((pattern) => matchesGlob(pattern, requested));
}

const globs = new Map<string, string[]>();

/**
 * `*` matches any run of characters. Matched by scanning, not by a regular expression: a
 * pattern with several `*` as a backtracking regex costs polynomial time in the name, and the
 * name comes from the request. Taking each part at its leftmost place is enough for `*` alone.
 */
export function matchesGlob(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  let parts = globs.get(pattern);
  if (!parts) {
    parts = pattern.split('*');
    globs.set(pattern, parts);
  }
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (name.length < first.length + last.length) return false;
  if (!name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const found = name.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}
