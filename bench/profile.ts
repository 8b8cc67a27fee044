/**
 * `node --import tsx bench/profile.ts [rest|graphql|stream|graphql-sse|ws|proxy|proxy-stream] [connections] [seconds] [DIR]`:
 * Conduit (bench config), or the bare proxy, loaded by autocannon on one target; prints its CPU
 * time per request or stream (`ws`: graphql-ws streams, `bench/ws-load.ts`; user + system, from /proc: robust to other load on the machine, unlike
 * req/s), and with DIR runs the server under --cpu-prof, writing the profile there.
 * BENCH_DIST picks the build, as for bench/run.ts; BENCH_REQUESTLOG=1 turns the request log on;
 * BENCH_TRACING=1 turns tracing on, exporting to a local sink (bench/otlp-sink.ts), every request
 * carrying a `traceparent`, sampled unless BENCH_TRACEFLAGS=00 (what an unrecorded request costs).
 */
import { cannon } from './load.js';
import { cpuMs, forkServer, pin as pinTo, startConduit } from './servers.js';
import { benchConfig, benchTargets, gqlInput, key, restBody } from './targets.js';
import { connect, wsStreams } from './ws-load.js';

const [which = 'rest', connections = '16', seconds = '8', dir] = process.argv.slice(2);

/**
 * BENCH_PIN=1: the server on CPU 0, the upstream and autocannon on CPU 1 (taskset), so the
 * scheduler's placement stops moving the figure: steadier for a before/after.
 */
const pin = (pid: number, cpu: string) => {
  if (process.env.BENCH_PIN) pinTo(pid, cpu);
};
pin(process.pid, '1');
const upstream = await forkServer('upstream.ts');
pin(upstream.pid, '1');
const proxied = which.startsWith('proxy');
const sink = process.env.BENCH_TRACING ? await forkServer('otlp-sink.ts') : undefined;
const traceparent = `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${process.env.BENCH_TRACEFLAGS ?? '01'}`;
const profile = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
const server = proxied
  ? await forkServer('proxy.ts', [upstream.url], profile)
  : await startConduit(
      // BENCH_REQUESTLOG=1: with the request log on (bench/request-log-cpu.ts has its share alone).
      {
        ...benchConfig(upstream.url),
        ...(process.env.BENCH_REQUESTLOG && { requestLog: { enabled: true } }),
        ...(sink && { telemetry: { otlpEndpoint: sink.url } }),
      },
      profile,
    );
pin(server.pid, '0');
const targets = benchTargets(upstream.url, server.url, server.url);
const ws = {
  url: `${server.url.replace('http', 'ws')}/graphql`,
  authorization: `Bearer ${key}`,
  input: (i: number) => gqlInput(`Say twenty words profile-${process.pid}-${i}`),
};
const load =
  which === 'ws'
    ? async (secs: number) => {
        const result = await wsStreams(ws, Number(connections), secs, 0);
        return { rps: result.rps, failed: result.failed };
      }
    : undefined;
const chosen = {
  rest: targets.rest,
  graphql: targets.graphql,
  stream: targets.restStream,
  'graphql-sse': targets.graphqlSse,
  proxy: targets.plain[1],
  'proxy-stream': targets.plain[1] && { ...targets.plain[1], body: restBody(targets.miss, true) },
}[which];
const target = chosen && sink ? { ...chosen, headers: { ...chosen.headers, traceparent } } : chosen;
if (!target && !load) throw new Error(`unknown target ${which}`);
const run = load ?? ((secs: number) => cannon(target!, Number(connections), secs));
try {
  if (load) await (await connect(ws)).dispose();
  await run(2);
  const before = cpuMs(server.pid);
  const result = await run(Number(seconds));
  const used = cpuMs(server.pid) - before;
  const requests = result.rps * Number(seconds);
  console.log(
    `${which} c=${connections}: ${result.rps.toFixed(0)} req/s, ` +
      `${((used * 1000) / requests).toFixed(1)} µs CPU per request, failed ${result.failed}`,
  );
} finally {
  await server.stop();
  await upstream.stop();
  await sink?.stop();
}
