import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  parseConfig,
  readConfig,
  resolveConfigPath,
} from '../../src/config/load.js';

function problemsOf(raw: unknown, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const secret = 'sk-live-SECRET-123456';

describe('config', () => {
  it('names the path of an unset variable, never a value', () => {
    const problems = problemsOf(
      {
        providers: {
          openai: { type: 'openai', keys: ['${OPENAI_API_KEY}', '${OPENAI_API_KEY_2}'] },
        },
      },
      { OPENAI_API_KEY: secret },
    );
    expect(problems).toEqual([
      'providers.openai.keys[1]: the variable OPENAI_API_KEY_2 is not set',
    ]);
  });

  it('refuses unknown keys, so a typo never passes silently', () => {
    const problems = problemsOf({ providers: { echo: { type: 'echo', delayMS: 5 } }, retyr: {} });
    expect(problems).toContain('providers.echo.delayMS: unknown key (is it a typo?)');
    expect(problems).toContain('retyr: unknown key (is it a typo?)');
  });

  it('names the path of each invalid value', () => {
    const problems = problemsOf({
      providers: { local: { type: 'openai-compatible' }, bad: { type: 'nope' } },
      models: { fast: { targets: [{ provider: 'missing', model: 'x' }] } },
      clients: [{ id: 'a', key: secret }, { id: 'b' }],
      server: { port: 'eighty' },
    });
    const text = problems.join('\n');
    expect(text).toMatch(/^providers\.bad\.type: /m);
    expect(text).toMatch(/^server\.port: /m);
    expect(text).toMatch(/^clients\[1\]: give exactly one of key or keySha256/m);
    expect(text).not.toContain(secret);
  });

  it('checks references and required fields across the file', () => {
    const problems = problemsOf({
      providers: { local: { type: 'openai-compatible' } },
      models: { fast: { targets: [{ provider: 'missing', model: 'x' }] } },
    });
    expect(problems).toEqual([
      'providers.local.baseUrl: is required for openai-compatible',
      'models.fast.targets[0].provider: names no configured provider ("missing")',
    ]);
  });

  it('fills defaults and interpolates ${VAR:-fallback}', () => {
    const config = parseConfig(
      { providers: { echo: { type: 'echo' } }, server: { host: '${HOST:-0.0.0.0}' } },
      {},
    );
    expect(config.server).toMatchObject({ port: 4000, host: '0.0.0.0' });
    expect(config.cache).toMatchObject({ enabled: true, scope: 'client' });
    expect(config.database.url).toBe('sqlite:./data/conduit.db');
  });

  it('takes PORT over server.port', () => {
    expect(parseConfig({ providers: {} }, { PORT: '5123' }).server.port).toBe(5123);
    expect(() => parseConfig({ providers: {} }, { PORT: 'x' })).toThrow(/PORT/);
  });

  it('finds the file by flag, then variable, then ./conduit.yaml, else the embedded default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conduit-config-'));
    expect(resolveConfigPath(['--config', 'a.yaml'], { CONDUIT_CONFIG: 'b.yaml' }, dir)).toBe(
      join(dir, 'a.yaml'),
    );
    expect(resolveConfigPath(['--config=c.yaml'], {}, dir)).toBe(join(dir, 'c.yaml'));
    expect(resolveConfigPath([], { CONDUIT_CONFIG: 'b.yaml' }, dir)).toBe(join(dir, 'b.yaml'));
    expect(resolveConfigPath([], {}, dir)).toBeUndefined();
    writeFileSync(join(dir, 'conduit.yaml'), 'providers: { demo: { type: echo } }\n');
    expect(resolveConfigPath([], {}, dir)).toBe(join(dir, 'conduit.yaml'));
    expect(loadConfig({ argv: [], env: {}, cwd: dir }).config.providers).toHaveProperty('demo');
  });

  it('builds the embedded default from the key variables that are set', () => {
    const { config, path } = loadConfig({
      argv: [],
      env: { ANTHROPIC_API_KEY: secret },
      cwd: tmpdir(),
    });
    expect(path).toBeUndefined();
    expect(Object.keys(config.providers).sort()).toEqual(['anthropic', 'echo']);
    expect(config.providers.anthropic?.keys).toEqual([secret]);
  });

  it('reports YAML syntax errors by line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conduit-config-'));
    writeFileSync(join(dir, 'bad.yaml'), 'providers:\n  echo: { type: echo\n');
    expect(() => loadConfig({ argv: ['--config', 'bad.yaml'], env: {}, cwd: dir })).toThrow(
      /not valid YAML at line/,
    );
  });
});

/** Loads `text` as a config file; returns the config and its warnings, or the ConfigError. */
function loadText(text: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'conduit-config-'));
  writeFileSync(join(dir, 'conduit.yaml'), text);
  try {
    return loadConfig({ argv: ['--config', 'conduit.yaml'], env, cwd: dir });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('config refuses two clients with one key', () => {
  it('names both paths when two keys are the same after ${VAR}, printing neither', () => {
    const problems = problemsOf(
      {
        providers: {},
        clients: [
          { id: 'app', key: '${APP_KEY}' },
          { id: 'ops', key: '${OPS_KEY}' },
          { id: 'admin', key: '${ADMIN_KEY}', admin: true },
        ],
      },
      { APP_KEY: secret, OPS_KEY: 'sk-other-key-0001', ADMIN_KEY: secret },
    );
    expect(problems).toEqual(['clients[0].key and clients[2].key are the same key']);
  });

  it('compares keySha256 with keySha256 (any case) and with the digest of a key', () => {
    const digest = sha256(secret);
    const problems = problemsOf({
      providers: {},
      clients: [
        { id: 'a', keySha256: digest },
        { id: 'b', keySha256: digest.toUpperCase() },
        { id: 'c', key: secret },
        { id: 'd', key: 'sk-unrelated-0002' },
      ],
    });
    expect(problems).toEqual([
      'clients[0].keySha256 and clients[1].keySha256 are the same key',
      'clients[0].keySha256 and clients[2].key are the same key',
    ]);
    expect(problems.join('\n')).not.toContain(secret);
    expect(problems.join('\n')).not.toContain(digest);
  });

  it('lets different keys through', () => {
    const { config } = readConfig(
      {
        providers: {},
        clients: [
          { id: 'a', key: '${A}' },
          { id: 'b', keySha256: sha256('b') },
        ],
      },
      { A: secret },
    );
    expect(config.clients.map((c) => c.id)).toEqual(['a', 'b']);
  });
});

describe('config warns of keys written in the file', () => {
  it('names the path of a literal provider or client key, never the value', () => {
    const loaded = loadText(
      [
        'providers:',
        '  openai: { type: openai, keys: ["${OPENAI_KEY}", "' + secret + '"] }',
        '  local: { type: openai-compatible, baseUrl: "http://127.0.0.1:1", keys: ["${LOCAL_KEY:-sk-local-fallback}"] }',
        'clients:',
        '  - { id: app, key: "${APP_KEY}" }',
        '  - { id: ops, key: sk-ops-LITERAL-9 }',
        '  - { id: hashed, keySha256: "' + sha256('x') + '" }',
        '',
      ].join('\n'),
      { OPENAI_KEY: 'sk-env-1', APP_KEY: 'sk-env-2' },
    );
    if (loaded instanceof ConfigError) throw loaded;
    expect(loaded.warnings).toEqual([
      'providers.openai.keys[1] is a literal in the file: use ${VAR}',
      'providers.local.keys[0] is a literal in the file (the fallback after LOCAL_KEY): use ${VAR}',
      'clients[1].key is a literal in the file: use ${VAR} or keySha256',
    ]);
    const text = loaded.warnings.join('\n');
    for (const value of [secret, 'sk-local-fallback', 'sk-ops-LITERAL-9']) {
      expect(text).not.toContain(value);
    }
  });

  it('has nothing to say of keys read from the environment (the embedded default included)', () => {
    expect(
      loadText('providers:\n  openai: { type: openai, keys: ["${OPENAI_KEY}"] }\n', {
        OPENAI_KEY: secret,
      }),
    ).toMatchObject({ warnings: [] });
    const embedded = loadConfig({ argv: [], env: { OPENAI_API_KEY: secret }, cwd: tmpdir() });
    expect(embedded.warnings).toEqual([]);
  });
});

describe('${VAR} in number and boolean settings', () => {
  it('reads a ${VAR} standing alone as the number or boolean the schema expects', () => {
    const loaded = loadText(
      [
        'server:',
        '  port: ${LISTEN_PORT}',
        '  shutdownTimeoutMs: ${DRAIN_MS:-2500}',
        'cache: { enabled: "${CACHE_ON}" }',
        'providers:',
        '  echo: { type: echo, delayMs: "${DELAY}" }',
        'clients:',
        '  - id: ops',
        '    key: ${OPS_KEY}',
        '    admin: ${IS_ADMIN}',
        '    budget: { usd: "${BUDGET_USD}", alertAt: ["${FIRST_ALERT}", 1] }',
        '',
      ].join('\n'),
      {
        LISTEN_PORT: '8081',
        CACHE_ON: 'false',
        DELAY: '5',
        OPS_KEY: secret,
        IS_ADMIN: 'TRUE',
        BUDGET_USD: '12.5',
        FIRST_ALERT: '0.5',
      },
    );
    if (loaded instanceof ConfigError) throw loaded;
    const { config } = loaded;
    expect(config.server).toMatchObject({ port: 8081, shutdownTimeoutMs: 2500 });
    expect(config.cache.enabled).toBe(false);
    expect(config.providers.echo?.delayMs).toBe(5);
    expect(config.clients[0]).toMatchObject({
      admin: true,
      budget: { usd: 12.5, alertAt: [0.5, 1] },
    });
  });

  it('keeps a string written in the file a string, and names the variable that gave no number', () => {
    const literal = problemsOf({ providers: {}, server: { port: '8081' } });
    expect(literal).toEqual(['server.port: Invalid input: expected number, received string']);
    const problems = problemsOf(
      {
        providers: {},
        server: { port: '${LISTEN_PORT}' },
        clients: [{ id: 'a', key: secret, admin: '${IS_ADMIN}' }],
        retry: { attempts: 'x${TRIES}' },
      },
      { LISTEN_PORT: 'eighty', IS_ADMIN: 'yes', TRIES: '3' },
    );
    expect(problems).toEqual([
      'server.port: expected a number, and what ${LISTEN_PORT} gave is not one',
      'retry.attempts: Invalid input: expected number, received string',
      'clients[0].admin: expected a boolean, and what ${IS_ADMIN} gave is not one',
    ]);
    expect(problems.join('\n')).not.toMatch(/eighty|yes/);
  });
});

describe('an unquoted ${VAR} inside { } or [ ]', () => {
  it('is an error that says how to quote it, by line', () => {
    const error = loadText('server: { port: ${PORT} }\nproviders: { echo: { type: echo } }\n');
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "line 1: quote ${PORT} inside { }: '${PORT}'",
    ]);
    const more = loadText(
      [
        'providers:',
        '  openai: { type: openai,',
        '    keys: [ ${KEY_A}, "${KEY_B}", key-${KEY_C:-x} ] }',
        '# a comment: { port: ${PORT} }',
        'logging: { level: "${LEVEL}" }',
        '',
      ].join('\n'),
    );
    expect((more as ConfigError).problems).toEqual([
      "line 3: quote ${KEY_A} inside [ ]: '${KEY_A}'",
      "line 3: quote ${KEY_C:-x} inside [ ]: 'key-${KEY_C:-x}'",
    ]);
  });

  it('reads the quoted form, and a ${VAR} in block style needs no quotes', () => {
    const loaded = loadText(
      "server: { port: '${LISTEN_PORT}' }\nproviders:\n  echo:\n    type: echo\n    delayMs: ${DELAY}\n",
      { LISTEN_PORT: '8082', DELAY: '3' },
    );
    if (loaded instanceof ConfigError) throw loaded;
    expect(loaded.config.server.port).toBe(8082);
    expect(loaded.config.providers.echo?.delayMs).toBe(3);
  });
});
