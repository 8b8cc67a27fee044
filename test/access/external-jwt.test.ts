/**
 * JWTs of the app's own identity provider (`auth.jwt`): a test issuer publishes its keys as a
 * JWKS over HTTP; its tokens name the client, the user and the models in claims. A rotation
 * (a new kid published, then the old one withdrawn) is followed; the JWKS is fetched a bounded
 * number of times however many unknown kids arrive; per-user limits follow the user claim.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { gql, startConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const ISSUER = 'https://id.example.test';
const KEY = 'ck-jwt-app-backend-0001';
const STREAMLESS = '{ viewer { id } }';

interface Signer {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
  spki: string;
}

async function signer(kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    kid,
    privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    spki: await exportSPKI(publicKey),
  };
}

/** The issuer's JWKS endpoint: publishes `keys`, counts its fetches. */
async function startIssuer() {
  const state = { keys: [] as JWK[], fetches: 0 };
  const server = createServer((req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onDispose(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { state, url: `http://127.0.0.1:${port}/.well-known/jwks.json` };
}

const token = (
  key: Signer,
  claims: Record<string, unknown>,
  options: { exp?: number; issuer?: string; audience?: string } = {},
) =>
  new SignJWT({ app: 'web', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? 'conduit')
    .setSubject(typeof claims.sub === 'string' ? claims.sub : 'user-1')
    .setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 300)
    .sign(key.privateKey);

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

function config(jwt: Record<string, unknown>) {
  return {
    providers: { echo: { type: 'echo' } },
    models: { chat: { targets: [{ provider: 'echo', model: 'echo' }] } },
    clients: [{ id: 'web', key: KEY, models: ['chat', 'echo/echo'] }],
    auth: {
      jwt: {
        issuer: ISSUER,
        audience: 'conduit',
        algorithms: ['RS256'],
        claims: { client: 'app', user: 'sub', models: 'models' },
        ...jwt,
      },
    },
    rateLimits: { perUser: [{ requests: 2, perSeconds: 3600 }] },
  };
}

const COMPLETE = /* GraphQL */ `
  mutation ($model: String!) {
    complete(input: { model: $model, messages: [{ role: USER, content: "hi" }], cache: BYPASS }) {
      content
    }
  }
`;

describe('external JWTs with a JWKS', () => {
  let issuer: Awaited<ReturnType<typeof startIssuer>>;
  let first: Signer;
  let second: Signer;

  beforeAll(async () => {
    issuer = await startIssuer();
    [first, second] = await Promise.all([signer('key-1'), signer('key-2')]);
  });

  it('lets a token of the issuer in as its client and user, following a key rotation', async () => {
    issuer.state.keys = [first.jwk];
    const gw = await startConduit(config({ jwksUrl: issuer.url, jwksCooldownMs: 1 }));
    const viewer = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(await token(first, {})));
    expect(viewer.body).toEqual({ data: { viewer: { id: 'web' } } });

    // Rotation: the new key is published beside the old; a token of the new kid is let in.
    issuer.state.keys = [first.jwk, second.jwk];
    const rotated = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(await token(second, {})));
    expect(rotated.body).toEqual({ data: { viewer: { id: 'web' } } });
    const old = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(await token(first, { sub: 'u2' })));
    expect(old.body).toEqual({ data: { viewer: { id: 'web' } } });

    // The old key withdrawn: an unknown kid makes Conduit fetch again, and the old key is gone.
    issuer.state.keys = [second.jwk];
    const third = await signer('key-3');
    const unknown = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(await token(third, {})));
    expect([unknown.status, unknown.body.errors?.[0].message]).toEqual([
      401,
      'token is signed by a key the issuer does not publish',
    ]);
    const withdrawn = await gql(
      gw.graphqlUrl,
      STREAMLESS,
      {},
      bearer(await token(first, { sub: 'u3' })),
    );
    expect([withdrawn.status, withdrawn.body.errors?.[0].message]).toEqual([
      401,
      'token is signed by a key the issuer does not publish',
    ]);
    const current = await gql(
      gw.graphqlUrl,
      STREAMLESS,
      {},
      bearer(await token(second, { sub: 'u3' })),
    );
    expect(current.body).toEqual({ data: { viewer: { id: 'web' } } });
  });

  it('fetches the JWKS a bounded number of times, however many unknown kids arrive', async () => {
    issuer.state.keys = [first.jwk];
    const gw = await startConduit(config({ jwksUrl: issuer.url }));
    const before = issuer.state.fetches;
    for (let i = 0; i < 6; i++) {
      const stranger = await signer(`stranger-${i}`);
      const { status } = await gql(
        gw.graphqlUrl,
        STREAMLESS,
        {},
        bearer(await token(stranger, {})),
      );
      expect(status).toBe(401);
    }
    // The first fetch, and at most one more within the 30 s cooldown.
    expect(issuer.state.fetches - before).toBeLessThanOrEqual(2);
    expect(issuer.state.fetches - before).toBeGreaterThanOrEqual(1);
  });

  it('applies the models claim within the client list, and per-user limits by the user claim', async () => {
    issuer.state.keys = [first.jwk];
    const gw = await startConduit(config({ jwksUrl: issuer.url }));
    // `echo/*` is wider than the client's `echo/echo`: dropped, so only `chat` is left.
    const narrow = await token(first, { sub: 'kim', models: ['chat', 'echo/*'] });
    const allowed = await gql(gw.graphqlUrl, COMPLETE, { model: 'chat' }, bearer(narrow));
    expect(allowed.body.data).toEqual({ complete: { content: 'hi' } });
    const byKey = await gql(gw.graphqlUrl, COMPLETE, { model: 'echo/echo' }, bearer(KEY));
    expect(byKey.body.data).toEqual({ complete: { content: 'hi' } });
    for (const model of ['echo/echo', 'echo/other']) {
      const refused = await gql(gw.graphqlUrl, COMPLETE, { model }, bearer(narrow));
      expect([model, refused.body.errors?.[0].extensions.code]).toEqual([model, 'FORBIDDEN']);
    }
    // kim has used one of two requests; another token of kim shares the window.
    const again = await token(first, { sub: 'kim' });
    const codes = [];
    for (let i = 0; i < 2; i++) {
      const { body } = await gql(gw.graphqlUrl, COMPLETE, { model: 'chat' }, bearer(again));
      codes.push(body.errors?.[0].extensions.code ?? 'OK');
    }
    expect(codes).toEqual(['OK', 'RATE_LIMITED']);
  });

  it('refuses tokens of another issuer, audience or unknown client, and expired ones', async () => {
    issuer.state.keys = [first.jwk];
    const gw = await startConduit(config({ jwksUrl: issuer.url }));
    const cases: [string, Promise<string>][] = [
      ['token expired', token(first, {}, { exp: Math.floor(Date.now() / 1000) - 60 })],
      ['token of an unknown issuer', token(first, {}, { issuer: 'https://evil.test' })],
      ['token has a wrong "aud" claim (check_failed)', token(first, {}, { audience: 'other' })],
      ['token names an unknown client "nobody"', token(first, { app: 'nobody' })],
    ];
    for (const [message, made] of cases) {
      const { status, body } = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(await made));
      expect([status, body.errors?.[0].message]).toEqual([401, message]);
    }
    // Keys still work beside tokens.
    const byKey = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(KEY));
    expect(byKey.body).toEqual({ data: { viewer: { id: 'web' } } });
  });
});

describe('external JWTs with a static public key and a fixed client', () => {
  it('verifies against the key, every token as the one client', async () => {
    const key = await signer('static');
    const gw = await startConduit(
      config({
        publicKey: '${IDP_PUBLIC_KEY}',
        claims: { clientId: 'web', user: 'sub' },
      }),
      { IDP_PUBLIC_KEY: key.spki },
    );
    const ok = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(await token(key, { app: 'x' })));
    expect(ok.body).toEqual({ data: { viewer: { id: 'web' } } });
    const other = await signer('static');
    const forged = await gql(gw.graphqlUrl, STREAMLESS, {}, bearer(await token(other, {})));
    expect([forged.status, forged.body.errors?.[0].message]).toEqual([
      401,
      'token has a bad signature',
    ]);
  });
});
