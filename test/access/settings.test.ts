/**
 * The access settings: a signing secret written in the file is warned about (as literal client
 * keys are), wrong combinations are errors naming their path and never the secret, and a key
 * pair signs and verifies as a secret does.
 */
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAccess } from '../../src/access/credentials.js';
import { createAuthenticator } from '../../src/auth.js';
import { parseConfig, readConfig } from '../../src/config/load.js';

const SECRET = 'a-session-secret-of-at-least-32-chars!';
const base = { providers: { echo: { type: 'echo' } }, clients: [{ id: 'app', key: '${KEY}' }] };
const env = { KEY: 'ck-settings-app-0001', SECRET };

describe('auth settings', () => {
  it('warns of a signing secret written in the file, not of one from ${VAR}', () => {
    const literal = readConfig({ ...base, auth: { sessionTokens: { secret: SECRET } } }, env);
    expect(literal.warnings).toEqual([
      'auth.sessionTokens.secret is a literal in the file: use ${VAR}',
    ]);
    const fromEnv = readConfig({ ...base, auth: { sessionTokens: { secret: '${SECRET}' } } }, env);
    expect(fromEnv.warnings).toEqual([]);
  });

  it('refuses wrong combinations by path, never printing the secret', () => {
    const short = 'too-short-secret';
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ sessionTokens: { secret: short } }, /auth\.sessionTokens\.secret.*at least 32/],
      [{ sessionTokens: {} }, /auth\.sessionTokens.*exactly one of secret or privateKey/],
      [
        { jwt: { issuer: 'https://id.test', audience: 'x', claims: { clientId: 'app' } } },
        /auth\.jwt.*exactly one of jwksUrl or publicKey/,
      ],
      [
        {
          jwt: {
            issuer: 'https://id.test',
            audience: 'x',
            jwksUrl: 'https://id.test/j',
            claims: {},
          },
        },
        /auth\.jwt\.claims.*exactly one of client \(a claim\) or clientId/,
      ],
    ];
    for (const [auth, message] of cases) {
      let error: unknown;
      try {
        parseConfig({ ...base, auth }, env);
      } catch (caught) {
        error = caught;
      }
      expect(String(error)).toMatch(message);
      expect(String(error)).not.toContain(short);
    }
  });

  it('signs and verifies with a key pair', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const config = parseConfig(
      {
        ...base,
        auth: { sessionTokens: { privateKey: '${PRIVATE}', publicKey: '${PUBLIC}' } },
      },
      { ...env, PRIVATE: await exportPKCS8(privateKey), PUBLIC: await exportSPKI(publicKey) },
    );
    const auth = createAuthenticator(config.clients);
    const access = await createAccess(config, auth);
    const minted = await access.sessions!.mint(auth.client('app')!, { user: 'zoe' });
    expect(JSON.parse(Buffer.from(minted.token.split('.')[0]!, 'base64url').toString())).toEqual({
      alg: 'ES256',
      typ: 'JWT',
    });
    const caller = await access.authenticate(`Bearer ${minted.token}`);
    expect(caller).toMatchObject({ clientId: 'app', user: 'zoe', admin: false });
  });
});
