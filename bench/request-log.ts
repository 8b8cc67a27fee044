/**
 * The `requestlog` section of `npm run bench`: what the request log costs. One Conduit with the
 * bench's config and two clients alike but for `requestLog`: the bench's own, not logged, and a
 * second whose requests are logged (`clients[].requestLog.enabled`). The two are loaded in turns
 * (off, on; on, off; …; `BENCH_REQUESTLOG_TURNS` of each, 4 by default) on the non-streamed REST
 * path at concurrency 16, after one discarded turn each. One process rather than two: two Conduits
 * started alike differ by up to 30% for their whole lives (docs/benchmarks.md, "two identical
 * Conduits"), more than the cost measured. The off client pays one look-up of its setting per
 * request that a Conduit logging no one does not. The figure is the ratio of their summed
 * throughputs; beside it, CPU per request (from /proc, over the measured runs). Checks that the
 * logged client's entries were written (through the `requests` query).
 */
import { cannon, type Result } from './load.js';
import { cpuMs, startConduit, type Child } from './servers.js';
import { benchTargets } from './targets.js';

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
  /** Entries the logged client sees at the end (at most one page, 500). */
  logged: number;
}

const CONNECTIONS = 16;

/** The logged client's key. */
const loggedKey = 'ck-bench-logged';

async function turn(
  conduit: Child,
  upstream: string,
  seconds: number,
  warmup: number,
  logged: boolean,
): Promise<Turn> {
  const rest = benchTargets(upstream, conduit.url).rest;
  const target = logged
    ? { ...rest, headers: { ...rest.headers, authorization: `Bearer ${loggedKey}` } }
    : rest;
  await cannon(target, CONNECTIONS, warmup);
  const before = cpuMs(conduit.pid);
  const result = await cannon(target, CONNECTIONS, seconds);
  const spent = cpuMs(conduit.pid) - before;
  return { ...result, cpuUsPerRequest: (spent * 1000) / (result.rps * seconds) };
}

export async function measureRequestLog(
  config: Record<string, unknown> & { clients: Record<string, unknown>[] },
  upstream: string,
  seconds: number,
  warmup: number,
): Promise<RequestLogFigures> {
  const turns = Number(process.env.BENCH_REQUESTLOG_TURNS ?? 4);
  const own = config.clients[0]!;
  const conduit = await startConduit({
    ...config,
    clients: [
      { ...own, requestLog: { enabled: false } },
      { ...own, id: 'bench-logged', key: loggedKey, requestLog: { enabled: true } },
    ],
    requestLog: { enabled: false },
  });
  try {
    const results = { off: [] as Turn[], on: [] as Turn[] };
    // One turn each first, discarded: a fresh process is still compiling its hot paths.
    await turn(conduit, upstream, seconds, warmup, false);
    await turn(conduit, upstream, seconds, warmup, true);
    for (let i = 0; i < turns; i++) {
      // The order turned each time, so a drift of the machine lands on both alike.
      for (const logged of i % 2 ? [true, false] : [false, true])
        results[logged ? 'on' : 'off'].push(await turn(conduit, upstream, seconds, warmup, logged));
    }
    const sum = (list: Turn[]) => list.reduce((total, r) => total + r.rps, 0);
    const cpu = (list: Turn[]) =>
      list.reduce((total, r) => total + r.cpuUsPerRequest * r.rps, 0) / sum(list);
    const response = await fetch(`${conduit.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${loggedKey}` },
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
    await conduit.stop();
  }
}
