/**
 * The `requestlog` section of `npm run bench`: what the request log costs. Two fresh Conduits
 * with the bench's config, one with `requestLog.enabled` and one without, measured in turns
 * (off, on, off, on) on the non-streamed REST path at concurrency 16 so that the machine's
 * drift falls on both alike; the figure is the ratio of their summed throughputs. Checks that
 * the log-on Conduit really wrote its entries (through the `requests` query).
 */
import { measure, type Result, type Target } from './load.js';
import { startConduit } from './servers.js';
import { benchTargets, key } from './targets.js';

export interface RequestLogFigures {
  off: Result[];
  on: Result[];
  /** Summed req/s with the log on over summed req/s with it off. */
  ratio: number;
  /** Entries the log-on Conduit holds at the end (at least one page's worth when it works). */
  logged: number;
}

const CONNECTIONS = 16;

export async function measureRequestLog(
  config: Record<string, unknown>,
  upstream: string,
  seconds: number,
  warmup: number,
): Promise<RequestLogFigures> {
  const off = await startConduit({ ...config, requestLog: { enabled: false } });
  const on = await startConduit({ ...config, requestLog: { enabled: true } });
  try {
    const target = (url: string): Target => benchTargets(upstream, url).rest;
    const results = { off: [] as Result[], on: [] as Result[] };
    for (let turn = 0; turn < 2; turn++) {
      results.off.push(await measure(target(off.url), CONNECTIONS, seconds, warmup));
      results.on.push(await measure(target(on.url), CONNECTIONS, seconds, warmup));
    }
    const sum = (list: Result[]) => list.reduce((total, r) => total + r.rps, 0);
    const response = await fetch(`${on.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ requests(first: 500) { edges { cursor } } }' }),
    });
    const body = (await response.json()) as { data?: { requests: { edges: unknown[] } } };
    return {
      ...results,
      ratio: sum(results.on) / sum(results.off),
      logged: body.data?.requests.edges.length ?? 0,
    };
  } finally {
    await on.stop();
    await off.stop();
  }
}
