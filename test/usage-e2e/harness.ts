/**
 * Shared by the usage end-to-end tests: raw reads of the usage table (never through our own
 * query code), a webhook receiver, a slow OpenAI upstream, a config file for the CLI, and a
 * Prometheus text reader.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { stringify } from 'yaml';
import { openaiCompletion, resolveReply } from '../fakes/openai.js';
import { onDispose } from '../helpers/dispose.js';
import { createFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';

/** A usage row as stored, with numbers as numbers. */
export type Row = Record<string, string | number | null>;

/** Every row of the usage table, read with plain SQL. */
export async function readRows(url: string): Promise<Row[]> {
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      return db.prepare('select * from usage_records order by time').all() as Row[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<Row>('select * from usage_records order by time');
    return rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          typeof v === 'string' && /^\d+$/.test(v) && k !== 'request_id' ? Number(v) : v,
        ]),
      ),
    );
  } finally {
    await client.end();
  }
}

/** Polls (bounded) until the table holds `count` rows: no event says a batch was written. */
export async function waitForRows(url: string, count: number, timeoutMs = 5000): Promise<Row[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = await readRows(url);
    if (rows.length >= count || Date.now() > until) return rows;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface Webhook {
  url: string;
  posts: { headers: IncomingMessage['headers']; body: Record<string, unknown> }[];
  /** Resolves once `count` POSTs have arrived. */
  received(count: number): Promise<void>;
}

/** A local node:http server recording every POST as JSON. */
export async function startWebhook(): Promise<Webhook> {
  const posts: Webhook['posts'] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    posts.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
    res.writeHead(204).end();
    for (const waiter of [...waiters]) {
      if (posts.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onDispose(() => new Promise((resolve) => server.close(resolve)));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    posts,
    received: (count) =>
      posts.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
  };
}

/**
 * An OpenAI upstream whose non-stream answers take about `delayMs` (the JSON body in two
 * writes, the second after the delay), with usage `{ prompt, completion }`.
 */
export async function startSlowOpenAI(
  delayMs: number,
  usage = { prompt: 11, completion: 3 },
): Promise<FakeUpstream & { baseUrl: string }> {
  const upstream = await createFakeUpstream((call) => {
    const body = JSON.stringify(
      openaiCompletion(resolveReply({ text: 'one two three', usage }, call.json)),
    );
    const half = Math.floor(body.length / 2);
    return {
      kind: 'stream',
      writes: [body.slice(0, half), body.slice(half)],
      delayMs,
      headers: { 'content-type': 'application/json' },
    };
  });
  onDispose(() => upstream.close());
  return Object.assign(upstream, { baseUrl: `${upstream.url}/v1` });
}

/** Writes a config file for the CLI; returns its path. */
export function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'conduit-usage-e2e-'));
  const file = join(dir, 'conduit.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** The value of one sample in Prometheus text, or undefined. Labels must match exactly. */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (have === wanted) return Number(match[3]);
  }
  return undefined;
}

export const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      id
      provider
      model
      content
      cached
      costUsd
      usage {
        promptTokens
        completionTokens
        cachedPromptTokens
      }
    }
  }
`;

export const bearer = (key: string): Record<string, string> => ({
  authorization: `Bearer ${key}`,
});
