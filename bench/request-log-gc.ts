/**
 * `node --import tsx bench/request-log-gc.ts SECONDS ROUNDS BUILD:on|off…`: what the garbage
 * collector and the main thread spend per request in Conduit, for several builds (`BUILD`: a
 * `dist/` folder) with the request log on or off, all started at once and loaded in turns (REST,
 * concurrency 16, ROUNDS runs of SECONDS each, after two discarded), so that a shared machine's
 * drift falls on all alike. Each runs under `--trace-gc-nvp`; per request it prints Conduit's CPU
 * (all threads, and the main thread alone: /proc/PID/task/PID/stat), the scavenges' pauses, and
 * the bytes the scavenger promoted to the old generation, which the machine's load barely moves
 * (unlike CPU time): the figure that showed entries held by the writer's queue after their batch
 * was written.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cpuMs, forkServer, startConduit, type ConduitChild } from './servers.js';
import type { Target } from './load.js';
import { benchConfig, benchTargets } from './targets.js';

const [seconds = '4', rounds = '4', ...builds] = process.argv.slice(2);
if (builds.length === 0) throw new Error('usage: request-log-gc.ts SECONDS ROUNDS DIST:on|off…');

/** The main thread's CPU time (utime + stime, clock ticks of 10 ms), ms. */
function mainThreadMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const run = (target: Target, secs: number) =>
  autocannon({
    url: target.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
    idReplacement: true,
    connections: 16,
    pipelining: 1,
    duration: secs,
  });

interface Measured {
  name: string;
  conduit: ConduitChild;
  target: Target;
  cpu: number[];
  main: number[];
  requests: number;
  logFrom: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

const upstream = await forkServer('upstream.ts');
const measured: Measured[] = [];
try {
  for (const build of builds) {
    const [dist = '', log] = build.split(':');
    process.env.BENCH_DIST = resolve(dist);
    const conduit = await startConduit(
      { ...benchConfig(upstream.url), requestLog: { enabled: log === 'on' } },
      ['--trace-gc-nvp'],
    );
    const target = benchTargets(upstream.url, conduit.url).rest;
    measured.push({ name: build, conduit, target, cpu: [], main: [], requests: 0, logFrom: 0 });
  }
  for (let i = 0; i < 2; i++) for (const m of measured) await run(m.target, 3);
  for (const m of measured) m.logFrom = readFileSync(m.conduit.logFile, 'utf8').length;
  for (let r = 0; r < Number(rounds); r++)
    for (const m of measured) {
      const cpu = cpuMs(m.conduit.pid);
      const main = mainThreadMs(m.conduit.pid);
      const result = await run(m.target, Number(seconds));
      const count = result.requests.total;
      m.cpu.push(((cpuMs(m.conduit.pid) - cpu) * 1000) / count);
      m.main.push(((mainThreadMs(m.conduit.pid) - main) * 1000) / count);
      m.requests += count;
    }
  for (const m of measured) {
    const lines = readFileSync(m.conduit.logFile, 'utf8').slice(m.logFrom).split('\n');
    let pause = 0;
    let promoted = 0;
    for (const line of lines) {
      if (!line.includes('gc=')) continue;
      pause += Number(/\bpause=([0-9.]+)/.exec(line)?.[1] ?? 0);
      promoted += Number(/\bpromoted=([0-9]+)/.exec(line)?.[1] ?? 0);
    }
    console.log(
      `${m.name}: CPU ${median(m.cpu).toFixed(0)} µs/request (main thread ${median(m.main).toFixed(0)}), ` +
        `GC pauses ${((pause * 1000) / m.requests).toFixed(1)} µs/request, ` +
        `promoted ${(promoted / m.requests).toFixed(0)} B/request (${m.requests} requests)`,
    );
  }
} finally {
  for (const m of measured) await m.conduit.stop();
  await upstream.stop();
}
