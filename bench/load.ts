/**
 * The load: autocannon for throughput (its latencies are whole milliseconds), a sequential
 * probe with microsecond timing for the latency targets at concurrency 1, and a holder of many
 * slow streams for the memory check.
 */
import autocannon from 'autocannon';
import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';

export interface Target {
  name: string;
  url: string;
  /** The request body; `[<id>]` is replaced by a unique id per request (a cache miss). */
  body: string;
  headers: Record<string, string>;
}

export interface Result {
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx answers and socket errors: must be 0 for the figures to mean anything. */
  failed: number;
}

export async function cannon(
  target: Target,
  connections: number,
  seconds: number,
): Promise<Result> {
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
    idReplacement: target.body.includes('[<id>]'),
    connections,
    pipelining: 1,
    duration: seconds,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

/** Warm-up (discarded), then the measured run. */
export async function measure(
  target: Target,
  connections: number,
  seconds: number,
  warmup: number,
): Promise<Result> {
  await cannon(target, connections, warmup);
  return cannon(target, connections, seconds);
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/**
 * One request at a time for `seconds`, to each target in turn (so a burst of noise from other
 * processes lands on all of them alike): p50 and p99 per target in ms, microsecond resolution.
 */
export async function probe(
  targets: Target[],
  seconds: number,
): Promise<Map<string, { p50: number; p99: number; count: number }>> {
  const open = targets.map((target) => {
    const url = new URL(target.url);
    return {
      target,
      path: url.pathname,
      pool: new Pool(url.origin, { connections: 1 }),
      times: [] as number[],
    };
  });
  let id = 0;
  const until = performance.now() + seconds * 1000;
  try {
    while (performance.now() < until) {
      for (const { target, path, pool, times } of open) {
        const body = target.body.replace('[<id>]', `probe-${process.pid}-${++id}`);
        const started = performance.now();
        const response = await pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', ...target.headers },
          body,
        });
        await response.body.arrayBuffer();
        const took = performance.now() - started;
        if (response.statusCode !== 200) throw new Error(`${target.name}: ${response.statusCode}`);
        times.push(took);
      }
    }
  } finally {
    await Promise.all(open.map(({ pool }) => pool.close()));
  }
  const results = new Map<string, { p50: number; p99: number; count: number }>();
  for (const { target, times } of open) {
    // The first tenth is warm-up.
    const sorted = times.slice(Math.floor(times.length / 10)).sort((a, b) => a - b);
    results.set(target.name, {
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      count: sorted.length,
    });
  }
  return results;
}

/**
 * Opens `count` streamed requests at once and resolves once every one has received its first
 * bytes (all are held open then); `whileHeld` runs at that moment. Then all are cut.
 */
export async function holdStreams(
  target: Target,
  count: number,
  whileHeld: () => void,
): Promise<{ opened: number; openMs: number }> {
  const url = new URL(target.url);
  const pool = new Pool(url.origin, { connections: count, pipelining: 1 });
  const controller = new AbortController();
  setMaxListeners(count + 10, controller.signal);
  const started = performance.now();
  let opened = 0;
  let allOpen!: () => void;
  const ready = new Promise<void>((resolve) => (allOpen = resolve));
  const requests = Array.from({ length: count }, async (_, i) => {
    const response = await pool.request({
      method: 'POST',
      path: url.pathname,
      headers: { 'content-type': 'application/json', ...target.headers },
      body: target.body.replace('[<id>]', `hold-${i}`),
      signal: controller.signal,
    });
    if (response.statusCode !== 200) throw new Error(`${target.name}: ${response.statusCode}`);
    // Held open: the first bytes are read, then nothing more until the check is done.
    await new Promise((resolve) => response.body.once('data', resolve));
    response.body.pause();
    if (++opened === count) allOpen();
    await ready;
  });
  const failed = Promise.all(requests).then(() => undefined);
  await Promise.race([ready, failed]);
  const openMs = performance.now() - started;
  whileHeld();
  controller.abort();
  await Promise.allSettled(requests);
  await pool.destroy();
  return { opened, openMs };
}
