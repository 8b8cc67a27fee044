/**
 * A fake embeddings server on the OpenAI wire (`POST /v1/embeddings`, the `list` of
 * `embedding` objects and `usage`), which places chosen texts near each other: every text of a
 * group gets the group's direction plus a small nudge of its own (cosine similarity about
 * 0.999 within a group, less with a wider spread); any other text gets a direction of its own (far from every group).
 * `hang` holds every request open, unanswered, until the client gives up.
 *
 * @see https://platform.openai.com/docs/api-reference/embeddings/create
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onDispose } from '../helpers/dispose.js';

const DIMENSION = 64;

export interface FakeEmbeddings {
  /** `providers.X.baseUrl` of an openai-compatible provider. */
  baseUrl: string;
  /** The texts embedded, in order. */
  inputs: string[];
  /** True: requests are held open, never answered. */
  hang: boolean;
  /** Resolves when the next request arrives. */
  nextRequest(): Promise<void>;
  close(): Promise<void>;
}

/** A deterministic unit vector from a seed text. */
function direction(seed: string): number[] {
  let h = 2166136261;
  for (const char of seed) h = Math.imul(h ^ char.codePointAt(0)!, 16777619) >>> 0;
  const values: number[] = [];
  for (let i = 0; i < DIMENSION; i++) {
    h = (Math.imul(h, 1664525) + 1013904223) >>> 0;
    values.push((h / 2 ** 32) * 2 - 1);
  }
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
}

/** Texts placed near each other; `spread` (default 0.02) sets how far apart within the group. */
export type Group = readonly string[] | { texts: readonly string[]; spread: number };

export function vectorOf(text: string, groups: readonly Group[]): number[] {
  const group = groups.findIndex((g) => ('texts' in g ? g.texts : g).includes(text));
  if (group === -1) return direction(`alone:${text}`);
  const found = groups[group]!;
  const spread = 'spread' in found ? found.spread : 0.02;
  const base = direction(`group:${group}`);
  const nudge = direction(`nudge:${text}`);
  return base.map((v, i) => v + spread * nudge[i]!);
}

export async function createFakeEmbeddings(groups: readonly Group[]): Promise<FakeEmbeddings> {
  const waiting: (() => void)[] = [];
  const held = new Set<ServerResponse>();
  let closed: Promise<void> | undefined;
  const fake: FakeEmbeddings = {
    baseUrl: '',
    inputs: [],
    hang: false,
    nextRequest: () => new Promise((resolve) => waiting.push(resolve)),
    close: () =>
      (closed ??= (async () => {
        for (const res of held) res.destroy();
        const done = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await done;
      })()),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      for (const resolve of waiting.splice(0)) resolve();
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        input: string | string[];
        model: string;
      };
      const inputs = typeof body.input === 'string' ? [body.input] : body.input;
      fake.inputs.push(...inputs);
      if (fake.hang) {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      const tokens = inputs.reduce((sum, text) => sum + text.split(/\s+/).length, 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data: inputs.map((text, index) => ({
            object: 'embedding',
            index,
            embedding: vectorOf(text, groups),
          })),
          model: body.model,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  onDispose(() => fake.close());
  return fake;
}
