import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, resolveConfigPath } from '../../src/config/load.js';

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
