import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCli } from '../helpers/process.js';
import { readRows } from '../usage-e2e/harness.js';

function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'conduit-cli-'));
  const file = join(dir, 'conduit.yaml');
  writeFileSync(file, text);
  return file;
}

// Each test starts the real CLI through tsx: seconds on a loaded 2-core machine.
describe('the conduit command', { timeout: 60_000 }, () => {
  it('stops on a config error, naming the path and printing no secret', async () => {
    const secret = 'sk-proj-DO-NOT-PRINT-42';
    const file = writeConfig(
      'providers:\n  openai:\n    type: openai\n    keys: ["${KEY_A}", "${KEY_B}"]\n    timeoutMs: -1\n',
    );
    const cli = runCli(['--config', file], { KEY_A: secret });
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('providers.openai.keys[1]: the variable KEY_B is not set');
    expect(cli.stderr() + cli.lines.join('\n')).not.toContain(secret);
  });

  it('lets a stream finish on SIGTERM, refuses new work, then exits 0', async () => {
    const file = writeConfig(
      'server: { port: 0 }\ndatabase: { url: "sqlite::memory:" }\nproviders:\n  slow: { type: echo, delayMs: 40 }\n',
    );
    const cli = runCli(['--config', file]);
    const line = await cli.waitForLine(/Conduit serves/);
    const url = /(http:\/\/[\d.:]+)\/graphql/.exec(line)![1]!;

    const client = createClient({
      url: `${url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    const words = 'one two three four five six seven eight nine ten';
    const iterator = client.iterate({
      query:
        'subscription { completionStream(input: { model: "slow/x", messages: [{ role: USER, content: "' +
        words +
        '" }] }) { delta done } }',
    });
    const chunks: { delta: string; done: boolean }[] = [];
    const first = await iterator.next();
    chunks.push((first.value as any).data.completionStream);

    cli.child.kill('SIGTERM');
    await cli.waitForLine(/draining/);
    const refused = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(refused);

    for await (const result of iterator) chunks.push((result as any).data.completionStream);
    expect(chunks.map((c) => c.delta).join('')).toBe(words);
    expect(chunks.at(-1)?.done).toBe(true);
    expect(await cli.exited).toBe(0);
    await client.dispose();
  });

  it('cuts streams still open at shutdownTimeoutMs on SIGTERM, and writes a row for each', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'conduit-cli-db-'));
    const database = `sqlite:${join(folder, 'usage.db')}`;
    const file = writeConfig(
      `server: { port: 0, shutdownTimeoutMs: 300 }\ndatabase: { url: "${database}" }\nproviders:\n  slow: { type: echo, delayMs: 100 }\n`,
    );
    const cli = runCli(['--config', file]);
    const url = /(http:\/\/[\d.:]+)\/graphql/.exec(await cli.waitForLine(/Conduit serves/))![1]!;
    // 100 words, 100 ms apart: ten seconds a stream.
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const subscription = `subscription { completionStream(input: { model: "slow/x", messages: [{ role: USER, content: "${words}" }] }) { delta } }`;

    const client = createClient({
      url: `${url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    const overWs = client.iterate({ query: subscription });
    const overSse = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: subscription }),
    });
    const overRest = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'slow/x',
        stream: true,
        messages: [{ role: 'user', content: words }],
      }),
    });
    await overWs.next();
    for (const response of [overSse, overRest]) {
      const reader = response.body!.getReader();
      for (let text = ''; !text.includes('w0');)
        text += new TextDecoder().decode((await reader.read()).value);
    }

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    await client.dispose();
    const rows = await readRows(database);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.stream === 1 && r.error_code === 'CANCELLED')).toBe(true);
    expect(cli.lines.filter((line) => /record dropped|records still owed/.test(line))).toEqual([]);
  });
});

describe('reloading on SIGHUP', { timeout: 60_000 }, () => {
  it('applies a new config and refuses a bad one, keeping the running config', async () => {
    const file = writeConfig(
      'server: { port: 0 }\ndatabase: { url: "sqlite::memory:" }\nproviders:\n  first: { type: echo }\n',
    );
    const cli = runCli(['--config', file]);
    const url = /(http:\/\/[\d.:]+)\/graphql/.exec(await cli.waitForLine(/Conduit serves/))![1]!;
    const names = async () => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ providers { name } }' }),
      });
      return ((await response.json()) as any).data.providers.map((p: { name: string }) => p.name);
    };
    expect(await names()).toEqual(['first']);

    writeFileSync(
      file,
      'server: { port: 0 }\ndatabase: { url: "sqlite::memory:" }\nproviders:\n  second: { type: echo }\n',
    );
    cli.child.kill('SIGHUP');
    await cli.waitForLine(/config reloaded/);
    expect(await names()).toEqual(['second']);

    writeFileSync(file, 'providers:\n  third: { type: nope }\n');
    cli.child.kill('SIGHUP');
    const refused = await cli.waitForLine(/reload refused/);
    expect(refused).toContain('providers.third.type');
    expect(await names()).toEqual(['second']);

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});
