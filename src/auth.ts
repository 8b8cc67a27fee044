/**
 * Bearer key → Caller. Keys are held only as SHA-256 digests and compared in constant time;
 * with no clients configured, every call is let in as the admin `anonymous`.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { ClientConfig } from './config/schema.js';
import { ErrorCodes, GatewayError } from './gateway/errors.js';
import type { Caller } from './gateway/types.js';

export interface ClientInfo {
  id: string;
  admin: boolean;
  models: readonly string[] | undefined;
  budget: ClientConfig['budget'];
  /**
   * A short fingerprint of the client's key (never the key): session tokens carry it, and a
   * token whose client has another key now is refused. Undefined for `anonymous`.
   */
  keyId?: string | undefined;
  /** Browser origins its credentials may be used from; undefined: `server.cors.origins`. */
  origins?: readonly string[] | undefined;
  /** Whether it may send any document or only its manifest's, by hash. */
  operations?: ClientConfig['operations'];
}

export interface Authenticator {
  /** True when no clients are configured: calls are open. */
  readonly open: boolean;
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

export function createAuthenticator(configs: readonly ClientConfig[]): Authenticator {
  const entries = configs.map((c) => ({
    digest: c.keySha256 ? Buffer.from(c.keySha256, 'hex') : sha256(c.key!),
    caller: Object.freeze({
      clientId: c.id,
      admin: c.admin,
      ...(c.models && { models: Object.freeze([...c.models]) }),
    }) as Caller,
    info: {
      id: c.id,
      admin: c.admin,
      models: c.models,
      budget: c.budget,
      keyId: keyIdOf(c.keySha256 ?? hash('sha256', c.key!, 'hex')),
      origins: c.origins,
      operations: c.operations,
    },
  }));
  const byId = new Map(entries.map((e) => [e.info.id, e.info]));

  return {
    open: entries.length === 0,

    authenticate(authorization) {
      if (entries.length === 0) return anonymous;
      const key = authorization?.replace(/^Bearer\s+/i, '').trim();
      if (!key)
        throw new GatewayError(
          ErrorCodes.UNAUTHENTICATED,
          'missing API key: send Authorization: Bearer <key>',
        );
      const digest = sha256(key);
      // Compare against every client, so the time taken says nothing about which one matched.
      let found: Caller | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.digest, digest)) found = entry.caller;
      }
      if (!found) throw new GatewayError(ErrorCodes.UNAUTHENTICATED, 'invalid API key');
      return found;
    },

    client: (id) => byId.get(id) ?? (id === anonymous.clientId ? anonymousInfo : undefined),
    clients: () => (entries.length === 0 ? [anonymousInfo] : [...byId.values()]),
  };
}

const anonymousInfo: ClientInfo = {
  id: 'anonymous',
  admin: true,
  models: undefined,
  budget: undefined,
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
