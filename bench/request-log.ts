/**
 * The `requestlog` section of `npm run bench`: what the request log costs. Two fresh Conduits
 * with the bench's config, one with `requestLog.enabled` and one without, measured in turns
 * (off, on, off, on…; `BENCH_REQUESTLOG_TURNS`, 3 by default) on the non-streamed REST path at
 * concurrency 16, after one discarded turn each (a fresh process is still compiling), so that the
 * machine's drift falls on both alike. The figure is the ratio of
 * their summed throughputs; beside it, each one's CPU per request (from /proc, over the measured
 * runs), which a shared machine's load disturbs far less than throughput. Checks that the
 * log-on Conduit really wrote its entries (through the `requests` query).
 */
import { cannon, type Result } from './load.js';
import { cpuMs, startConduit, type Child } from './servers.js';
import { benchTargets, key } from './targets.js';

export interface Turn extends Result {
  /** Conduit's CPU (user + system) per request answered, µs. */
  cpuUsPerRequest: number;
}

export interface RequestLogFigures {
  off: Turn[];
  on: Turn[];
  /** Summed req/s with the log on over summed req/s with it off. */
  ratio: number;
  /** CPU per request with the log on over with it off (the turns' totals). */
  cpuRatio: number;
  /** Entries the log-on Conduit holds at the end (at most one page, 500). */
  logged: number;
}

const CONNECTIONS = 16;

async function turn(
  conduit: Child,
  upstream: string,
  seconds: number,
  warmup: number,
): Promise<Turn> {
  const target = benchTargets(upstream, conduit.url).rest;
  await cannon(target, CONNECTIONS, warmup);
  const before = cpuMs(conduit.pid);
  const result = await cannon(target, CONNECTIONS, seconds);
  const spent = cpuMs(conduit.pid) - before;
  return { ...result, cpuUsPerRequest: (spent * 1000) / (result.rps * seconds) };
}

export async function measureRequestLog(
  config: Record<string, unknown>,
  upstream: string,
  seconds: number,
  warmup: number,
): Promise<RequestLogFigures> {
  const turns = Number(process.env.BENCH_REQUESTLOG_TURNS ?? 3);
  const off = await startConduit({ ...config, requestLog: { enabled: false } });
  const on = await startConduit({ ...config, requestLog: { enabled: true } });
  try {
    const results = { off: [] as Turn[], on: [] as Turn[] };
    // One turn each first, discarded: a fresh process is still compiling its hot paths.
    await turn(off, upstream, seconds, warmup);
    await turn(on, upstream, seconds, warmup);
    for (let i = 0; i < turns; i++) {
      results.off.push(await turn(off, upstream, seconds, warmup));
      results.on.push(await turn(on, upstream, seconds, warmup));
    }
    const sum = (list: Turn[]) => list.reduce((total, r) => total + r.rps, 0);
    const cpu = (list: Turn[]) =>
      list.reduce((total, r) => total + r.cpuUsPerRequest * r.rps, 0) / sum(list);
    const response = await fetch(`${on.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ requests(first: 500) { edges { cursor } } }' }),
    });
    const body = (await response.json()) as { data?: { requests: { edges: unknown[] } } };
    return {
      ...results,
      ratio: sum(results.on) / sum(results.off),
      cpuRatio: cpu(results.on) / cpu(results.off),
      logged: body.data?.requests.edges.length ?? 0,
    };
  } finally {
    await on.stop();
    await off.stop();
  }
}
