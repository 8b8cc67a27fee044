/**
 * Session tokens: short-lived JWTs a client's backend mints with its key (`createSessionToken`)
 * for one end user, so a browser calls Conduit without holding the key. A token is never wider
 * than its client: its models are a subset of the client's, its ttl is capped, it is not admin.
 * A token of scope `client` (the operator's own tools, such as the dashboard) acts with its
 * client's own rights instead: admin when the client is, and the client's whole usage. It carries the client's key fingerprint (`keyId`): once the client is removed or
 * re-keyed, the fingerprint no longer matches and the token is refused.
 *
 * @see https://github.com/panva/jose/blob/main/docs/jwt/sign/classes/SignJWT.md
 */
import { importPKCS8, importSPKI, jwtVerify, SignJWT, errors, type CryptoKey } from 'jose';
import type { ClientInfo } from '../auth.js';
import type { Config } from '../config/schema.js';
import { badInput, ErrorCodes, GatewayError } from '../gateway/errors.js';
import { covers } from './models.js';

type Settings = NonNullable<Config['auth']['sessionTokens']>;

/** The claims of a session token besides the registered ones (`sub` is the end user). */
export interface SessionClaims {
  /** The client. */
  cid: string;
  /** The client key's fingerprint when minted. */
  kid: string;
  models?: string[];
  /** maxTokensPerRequest */
  mtk?: number;
  /** budgetUsd */
  bud?: number;
  /** `client`: the token acts with its client's own rights (scope CLIENT); absent: one user's. */
  scp?: 'client';
}

export interface SessionInput {
  user: string;
  ttlSeconds?: number | null;
  models?: readonly string[] | null;
  maxTokensPerRequest?: number | null;
  budgetUsd?: number | null;
  /** `client`: the operator's own tools (the dashboard), with the client's rights. */
  scope?: SessionScope | null;
}

export type SessionScope = 'user' | 'client';

export interface MintedToken {
  token: string;
  expiresAt: Date;
  clientId: string;
  user: string;
  models: string[] | null;
  scope: SessionScope;
}

export interface VerifiedSession {
  sub: string;
  exp: number;
  claims: SessionClaims;
}

export interface SessionTokens {
  readonly issuer: string;
  mint(client: ClientInfo, input: SessionInput): Promise<MintedToken>;
  /** The token's claims, or UNAUTHENTICATED saying why (expired, bad signature, malformed). */
  verify(token: string): Promise<VerifiedSession>;
}

const maxUser = 256;

export async function createSessionTokens(settings: Settings): Promise<SessionTokens> {
  const algorithm = settings.secret !== undefined ? 'HS256' : settings.algorithm;
  let signKey: CryptoKey | Uint8Array;
  let verifyKey: CryptoKey | Uint8Array;
  if (settings.secret !== undefined) {
    signKey = verifyKey = new TextEncoder().encode(settings.secret);
  } else {
    // The keys' text never reaches an error message: jose's own errors would quote nothing,
    // but say which setting failed and nothing more.
    try {
      signKey = await importPKCS8(settings.privateKey!, algorithm);
    } catch {
      throw new Error(`auth.sessionTokens.privateKey is not a PKCS#8 ${algorithm} private key`);
    }
    try {
      verifyKey = await importSPKI(settings.publicKey!, algorithm);
    } catch {
      throw new Error(`auth.sessionTokens.publicKey is not an SPKI ${algorithm} public key`);
    }
  }
  const { issuer, maxTtlSeconds } = settings;

  return {
    issuer,

    async mint(client, input) {
      const user = input.user.trim();
      if (!user || user.length > maxUser)
        throw badInput('user', `user must be 1 to ${maxUser} characters`);
      if (!client.keyId)
        throw new GatewayError(ErrorCodes.FORBIDDEN, 'session tokens need a client key');
      const ttl = Math.min(input.ttlSeconds ?? maxTtlSeconds, maxTtlSeconds);
      if (!Number.isInteger(ttl) || ttl < 1)
        throw badInput('ttlSeconds', 'ttlSeconds must be a positive integer');
      const models = input.models ? [...input.models] : undefined;
      for (const model of models ?? []) {
        if (!covers(client.models, model))
          throw badInput('models', `model "${model}" is outside client "${client.id}"'s models`);
      }
      const most = input.maxTokensPerRequest ?? undefined;
      if (most !== undefined && (!Number.isInteger(most) || most < 1))
        throw badInput('maxTokensPerRequest', 'maxTokensPerRequest must be a positive integer');
      const budget = input.budgetUsd ?? undefined;
      if (budget !== undefined && !(budget >= 0 && Number.isFinite(budget)))
        throw badInput('budgetUsd', 'budgetUsd must be a number of dollars, 0 or more');
      const claims: SessionClaims = {
        cid: client.id,
        kid: client.keyId,
        ...(models && { models }),
        ...(most !== undefined && { mtk: most }),
        ...(budget !== undefined && { bud: budget }),
        ...(input.scope === 'client' && { scp: 'client' as const }),
      };
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(issuer)
        .setSubject(user)
        .setIssuedAt(now)
        .setExpirationTime(now + ttl)
        .sign(signKey);
      return {
        token,
        expiresAt: new Date((now + ttl) * 1000),
        clientId: client.id,
        user,
        models: models ?? null,
        scope: input.scope ?? 'user',
      };
    },

    async verify(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, verifyKey, {
          issuer,
          audience: issuer,
          algorithms: [algorithm],
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (error) {
        throw refusal(error, 'session token');
      }
      const { sub, exp, cid, kid } = payload;
      if (typeof cid !== 'string' || typeof kid !== 'string' || typeof sub !== 'string')
        throw unauthenticated('session token is malformed (its claims)');
      return { sub, exp: exp!, claims: payload as unknown as SessionClaims };
    },
  };
}

export const unauthenticated = (message: string): GatewayError =>
  new GatewayError(ErrorCodes.UNAUTHENTICATED, message);

/** jose's failure as the 401 that says which it was; never the token or a key. */
export function refusal(error: unknown, what: string): GatewayError {
  if (error instanceof errors.JWTExpired) return unauthenticated(`${what} expired`);
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return unauthenticated(`${what} has a bad signature`);
  if (error instanceof errors.JOSEAlgNotAllowed)
    return unauthenticated(`${what} is signed with an algorithm not allowed`);
  if (error instanceof errors.JWKSNoMatchingKey)
    return unauthenticated(`${what} is signed by a key the issuer does not publish`);
  if (error instanceof errors.JWTClaimValidationFailed)
    return unauthenticated(`${what} has a wrong "${error.claim}" claim (${error.reason})`);
  if (error instanceof errors.JOSEError) return unauthenticated(`${what} is malformed`);
  return unauthenticated(`${what} could not be verified`);
}
