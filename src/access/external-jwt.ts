/**
 * JWTs of the app's own identity provider (`auth.jwt`): verified against its JWKS (jose's
 * remote key set: fetched on first use, kept `jwksCacheMaxAgeMs`, fetched again at most every
 * `jwksCooldownMs` when a token names a `kid` it does not hold, so a rotated key is picked up
 * and a flood of made-up kids costs one fetch per cooldown) or a static public key. Claims give
 * the client (a claim, or one fixed client), the end user and, optionally, the models.
 *
 * @see https://github.com/panva/jose/blob/main/docs/jwks/remote/functions/createRemoteJWKSet.md
 */
import {
  createRemoteJWKSet,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Config } from '../config/schema.js';
import { refusal, unauthenticated } from './session-tokens.js';

type Settings = NonNullable<Config['auth']['jwt']>;

export interface ExternalIdentity {
  clientId: string;
  user: string;
  models: string[] | undefined;
  exp: number;
}

export interface ExternalJwt {
  readonly issuer: string;
  verify(token: string): Promise<ExternalIdentity>;
}

/** How long one JWKS fetch may take. */
const JWKS_TIMEOUT_MS = 5_000;

export async function createExternalJwt(settings: Settings): Promise<ExternalJwt> {
  let key: JWTVerifyGetKey | CryptoKey;
  if (settings.jwksUrl !== undefined) {
    key = createRemoteJWKSet(new URL(settings.jwksUrl), {
      cooldownDuration: settings.jwksCooldownMs,
      cacheMaxAge: settings.jwksCacheMaxAgeMs,
      timeoutDuration: JWKS_TIMEOUT_MS,
    });
  } else {
    try {
      key = await importSPKI(settings.publicKey!, settings.algorithms[0]!);
    } catch {
      throw new Error(`auth.jwt.publicKey is not an SPKI ${settings.algorithms[0]} public key`);
    }
  }
  const { claims } = settings;

  return {
    issuer: settings.issuer,

    async verify(token) {
      let payload: JWTPayload;
      try {
        // One call for both shapes of key: jose takes a key or a key-getting function.
        ({ payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: settings.algorithms,
          clockTolerance: settings.clockToleranceSeconds,
          requiredClaims: ['exp'],
        }));
      } catch (error) {
        throw refusal(error, 'token');
      }
      const clientId = claims.clientId ?? payload[claims.client!];
      if (typeof clientId !== 'string' || !clientId)
        throw unauthenticated(`token has no "${claims.client}" claim naming a client`);
      const user = payload[claims.user];
      if (typeof user !== 'string' || !user || user.length > 256)
        throw unauthenticated(`token has no "${claims.user}" claim naming its user`);
      let models: string[] | undefined;
      if (claims.models !== undefined) {
        const value = payload[claims.models];
        // Absent: the client's models; present but not a list of names: none.
        if (value === undefined) models = undefined;
        else if (typeof value === 'string') models = value.split(/\s+/).filter(Boolean);
        else if (Array.isArray(value) && value.every((m) => typeof m === 'string'))
          models = value as string[];
        else models = [];
      }
      return { clientId, user, models, exp: payload.exp! };
    },
  };
}
