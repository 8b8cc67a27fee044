/**
 * Time to first token of a paced stream (the upstream's `ttft-<ms>` model: the role chunk at
 * once, the first word alone `<ms>` later, the rest `<ms>` after it), per transport: SSE over
 * HTTP (REST, GraphQL, and the bare proxy's bytes) and graphql-ws. The time runs from the
 * request (or the subscribe) to the arrival of the bytes carrying the first word; each stream is
 * then read to its end before the next one starts on the same connection.
 */
import { Pool } from 'undici';
import type { Target } from './load.js';
import { connect, subscribeOnce, type WsTarget } from './ws-load.js';

export const firstWord = 'word0';

/** A transport that can run one stream and report its time to first token, in ms. */
export interface Sampler {
  name: string;
  /** Opens `connections` connections (HTTP: a pool; WebSocket: sockets). */
  open(
    connections: number,
  ): Promise<{ sample(slot: number): Promise<number>; close(): Promise<void> }>;
}

/** One counter for every SSE sampler: REST and GraphQL must not send the same prompt, or the
 * second would be a cache hit. */
let id = 0;

export function sseSampler(target: Target): Sampler {
  const url = new URL(target.url);
  return {
    name: target.name,
    async open(connections) {
      const pool = new Pool(url.origin, { connections, pipelining: 1 });
      return {
        async sample() {
          const body = target.body.replace('[<id>]', `ttft-sse-${process.pid}-${++id}`);
          const started = performance.now();
          const response = await pool.request({
            method: 'POST',
            path: url.pathname,
            headers: { 'content-type': 'application/json', ...target.headers },
            body,
          });
          if (response.statusCode !== 200) {
            throw new Error(`${target.name}: ${response.statusCode} ${await response.body.text()}`);
          }
          let first = NaN;
          let tail = '';
          for await (const chunk of response.body as AsyncIterable<Buffer>) {
            if (!Number.isNaN(first)) continue;
            // The word may straddle two reads: keep the end of the previous one.
            const text = tail + chunk.toString('latin1');
            if (text.includes(firstWord)) first = performance.now() - started;
            else tail = text.slice(-firstWord.length);
          }
          if (Number.isNaN(first))
            throw new Error(`${target.name}: no "${firstWord}" in the stream`);
          return first;
        },
        close: () => pool.close(),
      };
    },
  };
}

/** `target.input` must give prompts of its own (not `ttft-sse-…`): the cache would hit. */
export function wsSampler(name: string, target: WsTarget): Sampler {
  let id = 0;
  return {
    name,
    async open(connections) {
      const clients = await Promise.all(Array.from({ length: connections }, () => connect(target)));
      return {
        async sample(slot) {
          let first = NaN;
          await subscribeOnce(clients[slot]!, target.input(++id), (ms) => (first = ms), firstWord);
          if (Number.isNaN(first)) throw new Error(`${name}: no "${firstWord}" in the stream`);
          return first;
        },
        close: async () => {
          await Promise.all(clients.map((client) => client.dispose()));
        },
      };
    },
  };
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

export interface Ttft {
  p50: number;
  p99: number;
  count: number;
}

function summary(times: number[]): Ttft {
  // The first tenth is warm-up.
  const sorted = times.slice(Math.floor(times.length / 10)).sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), count: sorted.length };
}

/**
 * Concurrency 1: one stream at a time, to each transport in turn for `seconds` (so a burst of
 * noise from other processes lands on all of them alike).
 */
export async function ttftInTurn(samplers: Sampler[], seconds: number): Promise<Map<string, Ttft>> {
  const open = await Promise.all(samplers.map((sampler) => sampler.open(1)));
  const times = samplers.map(() => [] as number[]);
  const until = performance.now() + seconds * 1000;
  try {
    while (performance.now() < until) {
      for (const [i, connection] of open.entries()) times[i]!.push(await connection.sample(0));
    }
  } finally {
    await Promise.all(open.map((connection) => connection.close()));
  }
  return new Map(samplers.map((sampler, i) => [sampler.name, summary(times[i]!)]));
}

/** `concurrency` streams at once on one transport, each slot starting its next when one ends. */
export async function ttftConcurrent(
  sampler: Sampler,
  concurrency: number,
  seconds: number,
): Promise<Ttft> {
  const connection = await sampler.open(concurrency);
  const times: number[] = [];
  const until = performance.now() + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async (_, slot) => {
        while (performance.now() < until) times.push(await connection.sample(slot));
      }),
    );
  } finally {
    await connection.close();
  }
  return summary(times);
}
