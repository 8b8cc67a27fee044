/**
 * Masking credential-shaped strings: each shape, configured secrets as literals, JSON kept JSON,
 * and linear time on hostile input (the text is an upstream's, or an attacker's).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { createRedactor, maskSecrets, secretsOf } from '../src/redact.js';

describe('maskSecrets', () => {
  it.each([
    ['Authorization: Bearer upstream-SECRET-abc.def_123', 'upstream-SECRET-abc.def_123'],
    ['bearer   eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig', 'eyJhbGciOiJIUzI1NiJ9'],
    ['could not reach postgres://admin:hunter2@db.internal/x', 'hunter2'],
    ['clone https://ghp_tokentokentoken@github.com/a/b', 'ghp_tokentokentoken'],
    ['key sk-proj-Abc123def456ghi789 refused', 'Abc123def456ghi789'],
    ['key sk-ant-api03-Abc123def456ghi789-xyz refused', 'api03-Abc123def456ghi789'],
    ['google AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv', 'SyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv'],
    ['GET /v1/x?api_key=0123456789abcdef0123&b=1', '0123456789abcdef0123'],
    ['{"x-api-key": "abcdef0123456789"}', 'abcdef0123456789'],
    ['password=s3cr3t-pass token: ZXhhbXBsZXRva2Vu', 's3cr3t-pass'],
    ['password=s3cr3t-pass token: ZXhhbXBsZXRva2Vu', 'ZXhhbXBsZXRva2Vu'],
  ])('masks %s', (text, secret) => {
    const masked = maskSecrets(text);
    expect(masked).not.toContain(secret);
    expect(masked).toContain('[redacted]');
  });

  // Each pattern runs only when its gate (a word it needs) is in the text: in any case, anywhere.
  it.each([
    ['AUTHORIZATION: BEARER Upstream-Secret-Abc', 'Upstream-Secret-Abc'],
    ['BaSiC dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA=='],
    ['HTTPS://Admin:Hunter2@Db.Internal/x', 'Hunter2'],
    ['{"X-Api-KEY": "abcdef0123456789"}', 'abcdef0123456789'],
    ['Client_Secret=0123456789abcdef', '0123456789abcdef'],
    ['PASSWD: s3cr3t-pass-word', 's3cr3t-pass-word'],
    ['Pwd=s3cr3t-pass-word', 's3cr3t-pass-word'],
    ['ID-TOKEN: ZXhhbXBsZXRva2Vu', 'ZXhhbXBsZXRva2Vu'],
    ['authorization="Zm9vYmFyYmF6cXV4"', 'Zm9vYmFyYmF6cXV4'],
    ['"{\\"api_key\\": \\"0123456789abcdef\\"}"', '0123456789abcdef'],
  ])('masks %s whatever its case', (text, secret) => {
    const masked = maskSecrets(text);
    expect(masked).not.toContain(secret);
    expect(masked).toContain('[redacted]');
  });

  it('leaves ordinary text alone', () => {
    const text =
      "Unsupported parameter: 'max_tokens' is not supported with this model. See https://platform.openai.com/docs (keyIndex 0, maxTokens: 20)";
    expect(maskSecrets(text)).toBe(text);
    // Conduit's own answer to a request with no key, which every edge masks too.
    const own = 'missing API key: send Authorization: Bearer <key>';
    expect(maskSecrets(own)).toBe(own);
  });

  it('keeps a JSON document JSON', () => {
    const doc = JSON.stringify({
      msg: 'Bearer abc.def and postgres://u:p@h/db',
      err: { message: 'api_key="zzzzzzzzzz", "password":"hunter22"' },
      url: 'https://user:pass@host',
    });
    const masked = maskSecrets(doc);
    expect(() => JSON.parse(masked)).not.toThrow();
    expect(masked).not.toMatch(/abc\.def|hunter22|zzzzzzzzzz|pass@/);
  });

  it('masks a 1 MB hostile string in well under a second', () => {
    const hostile = [
      'Bearer '.repeat(20_000),
      'a://'.repeat(20_000) + 'x'.repeat(100_000),
      'http://' + 'u'.repeat(200_000) + ':' + 'p'.repeat(200_000),
      'key='.repeat(20_000),
      'api_key: ' + '"'.repeat(10_000),
      'sk-'.repeat(30_000),
      'AIza'.repeat(20_000),
      'password= '.repeat(10_000),
      'token\\\\"'.repeat(10_000),
    ].join('');
    expect(hostile.length).toBeGreaterThan(1_000_000);
    const redactor = createRedactor(['configured-secret-1', 'configured-secret-22']);
    const started = performance.now();
    maskSecrets(hostile);
    redactor.mask(hostile);
    // Linear: ~0.2 s for both on an idle machine; a backtracking pattern would take minutes.
    expect(performance.now() - started).toBeLessThan(800);
  });
});

describe('createRedactor', () => {
  it('masks the configured secrets wherever they appear, longest first', () => {
    const { mask } = createRedactor(['plain-secret-value', 'plain-secret-value-longer', 'short']);
    expect(mask('x plain-secret-value-longer y plain-secret-value z short')).toBe(
      'x [redacted] y [redacted] z short',
    );
  });
});

describe('secretsOf', () => {
  it('lists provider keys, client keys, the webhook and URL passwords, ${VAR}-filled ones too', () => {
    const config = parseConfig(
      {
        providers: { p: { type: 'openai', keys: ['${P_KEY}'] } },
        clients: [{ id: 'c', key: '${C_KEY}' }],
        alerts: { webhookUrl: 'https://hooks.example.com/services/T0/B0/hooktoken123' },
        redis: { url: 'redis://:redispass99@127.0.0.1:6379' },
        database: { url: 'postgres://conduit:dbpass12345@db/conduit' },
      },
      { P_KEY: 'provider-key-from-env', C_KEY: 'client-key-from-env' },
    );
    expect(secretsOf(config)).toEqual(
      expect.arrayContaining([
        'provider-key-from-env',
        'client-key-from-env',
        'https://hooks.example.com/services/T0/B0/hooktoken123',
        '/services/T0/B0/hooktoken123',
        'redispass99',
        'dbpass12345',
      ]),
    );
  });
});

describe('the logger', () => {
  it('masks credential-shaped strings in every line, which stays JSON', () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const error = new Error('could not reach postgres://admin:hunter2@db.internal/x', {
      cause: new Error('upstream said Authorization: Bearer upstream-SECRET-42'),
    });
    log.error({ err: error, detail: { body: '{"api_key":"0123456789abcdef"}' } }, 'failed');
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(() => JSON.parse(line)).not.toThrow();
    expect(line).not.toMatch(/hunter2|upstream-SECRET-42|0123456789abcdef/);
    expect(JSON.parse(line).msg).toBe('failed');
  });
});
