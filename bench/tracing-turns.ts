/**
 * `node --import tsx bench/tracing-turns.ts [sampled|onoff|unsampled|aa] [turns] [seconds]`: what tracing
 * costs Conduit, with every server on CPU 0 and the upstream, the sink and autocannon on CPU 1
 * (taskset), so that the scheduler's placement does not move the figure; non-streamed REST at
 * concurrency 16, the two sides in turns (the order turned each round), each turn's req/s and
 * Conduit's CPU per request (from /proc), and the ratios of the sums.
 * - `sampled`: one Conduit tracing, requests with a sampled `traceparent` against unsampled ones;
 * - `onoff`: two Conduits, tracing off and on (every request sampled);
 * - `unsampled`: two Conduits, tracing off and on, no request sampled: what tracing costs a
 *   request it does not record;
 * - `aa`: two Conduits alike, tracing off: how far two processes differ with nothing between them.
 * BENCH_WARMUP (seconds, default 2): the load each side takes before the turns; a fresh Conduit
 * costs more a request for its first ~30 s of load, while its cache and heap grow.
 */
import { cannon, type Target } from './load.js';
import { cpuMs, forkServer, pin, startConduit, type Child } from './servers.js';
import { benchConfig, benchTargets } from './targets.js';

const [mode = 'sampled', turns = '3', seconds = '5'] = process.argv.slice(2);
const upstream = await forkServer('upstream.ts');
const sink = await forkServer('otlp-sink.ts');
const config = benchConfig(upstream.url);
const traced = { ...config, telemetry: { otlpEndpoint: sink.url } };
const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-';
const sideOf = async (
  conduit: Promise<Child>,
  flags: string,
): Promise<{ server: Child; target: Target }> => {
  const server = await conduit;
  const { rest } = benchTargets(upstream.url, server.url);
  return { server, target: { ...rest, headers: { ...rest.headers, traceparent: parent + flags } } };
};
type Side = { server: Child; target: Target };
const modes: Record<string, () => Promise<Record<string, Side>>> = {
  async sampled() {
    const one = startConduit(traced);
    return { sampled: await sideOf(one, '01'), unsampled: await sideOf(one, '00') };
  },
  onoff: async () => ({
    on: await sideOf(startConduit(traced), '01'),
    off: await sideOf(startConduit(config), '01'),
  }),
  unsampled: async () => ({
    on: await sideOf(startConduit(traced), '00'),
    off: await sideOf(startConduit(config), '00'),
  }),
  aa: async () => ({
    a: await sideOf(startConduit(config), '01'),
    b: await sideOf(startConduit(config), '01'),
  }),
};
const chosen = modes[mode];
if (!chosen) throw new Error(`unknown mode ${mode}: ${Object.keys(modes).join(', ')}`);
const sides = await chosen();
const names = Object.keys(sides);
const servers = [...new Set(Object.values(sides).map((s) => s.server))];
for (const server of servers) pin(server.pid, '0');
for (const pid of [process.pid, upstream.pid, sink.pid]) pin(pid, '1');
const totals = new Map(names.map((name) => [name, { rps: 0, cpu: 0 }]));
try {
  const warm = Number(process.env.BENCH_WARMUP ?? 2);
  for (const { target } of Object.values(sides)) await cannon(target, 16, warm);
  for (let round = 0; round < Number(turns) * 2; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const { server, target } = sides[name]!;
      await cannon(target, 16, 1);
      const before = cpuMs(server.pid);
      const result = await cannon(target, 16, Number(seconds));
      const cpu = ((cpuMs(server.pid) - before) * 1000) / (result.rps * Number(seconds));
      const total = totals.get(name)!;
      total.rps += result.rps;
      total.cpu += cpu;
      console.log(`${name.padEnd(9)} ${result.rps.toFixed(0)} req/s ${cpu.toFixed(1)} µs/req`);
    }
  }
  const n = Number(turns) * 2;
  const [x, y] = names.map((name) => totals.get(name)!);
  console.log(
    `${names[0]} ÷ ${names[1]}: req/s ${(x!.rps / y!.rps).toFixed(3)}, CPU ` +
      `${(x!.cpu / y!.cpu).toFixed(3)} (${(x!.cpu / n).toFixed(1)} against ${(y!.cpu / n).toFixed(1)} ` +
      `µs/req: ${x!.cpu >= y!.cpu ? '+' : ''}${((x!.cpu - y!.cpu) / n).toFixed(1)})`,
  );
} finally {
  await Promise.all(servers.map((server) => server.stop()));
  await upstream.stop();
  await sink.stop();
}
