/**
 * The config checks as an operator meets them: the real CLI logs a warning for a key written in
 * the file and refuses to start with two clients holding one key, naming paths, never a key.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/process.js';

function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'conduit-cli-config-'));
  const file = join(dir, 'conduit.yaml');
  writeFileSync(file, text);
  return file;
}

const secret = 'sk-proj-LITERAL-DO-NOT-PRINT-7';

describe('the conduit command reading its config', { timeout: 60_000 }, () => {
  it('warns of a literal provider key by its path, and serves', async () => {
    const file = writeConfig(
      [
        'server: { port: "${LISTEN_PORT}" }',
        'database: { url: "sqlite::memory:" }',
        'providers:',
        '  echo: { type: echo }',
        '  openai: { type: openai, keys: ["' + secret + '"] }',
        '',
      ].join('\n'),
    );
    const cli = runCli(['--config', file], { LISTEN_PORT: '0' });
    await cli.waitForLine(/Conduit serves/);
    const warning = cli.lines.map((line) => JSON.parse(line)).find((line) => line.level === 40);
    expect(warning?.msg).toBe('providers.openai.keys[0] is a literal in the file: use ${VAR}');
    expect(cli.lines.join('\n') + cli.stderr()).not.toContain(secret);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('refuses two clients with the same key, naming both', async () => {
    const file = writeConfig(
      [
        'providers: { echo: { type: echo } }',
        'clients:',
        '  - { id: app, key: "${APP_KEY}" }',
        '  - { id: root, key: "${ROOT_KEY}", admin: true }',
        '',
      ].join('\n'),
    );
    const cli = runCli(['--config', file], { APP_KEY: secret, ROOT_KEY: secret });
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('clients[0].key and clients[1].key are the same key');
    expect(cli.stderr() + cli.lines.join('\n')).not.toContain(secret);
  });
});
