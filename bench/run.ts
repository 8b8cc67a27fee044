/**
 * `npm run bench`: Conduit's REST and GraphQL paths against a bare pass-through proxy, side by
 * side in one run, each server in its own process, all against one mock OpenAI upstream.
 * Build first (`npm run build`): Conduit runs from `dist/`.
 *
 * Conduit runs with a client key, rate limits (requests and tokens), a budget, usage recording
 * (SQLite) and logging (info, to a file) on, and the cache on but missing (every body differs),
 * except in the cache-hit section.
 *
 *   BENCH_SECONDS=6 BENCH_WARMUP=2   length of each measured run and of its warm-up
 *   BENCH_ONLY=plain,stream,latency,hold   sections to run (all by default)
 *   BENCH_PROFILE=DIR                 run Conduit with --cpu-prof, profiles written to DIR
 *   BENCH_DIST=DIR                    run Conduit from another build (an A/B against an older commit)
 *   BENCH_NODE_ARGS="--flag …"        extra node flags for Conduit
 *
 * Also: bench/profile.ts (one target, Conduit's CPU µs per request from /proc, optionally under
 * --cpu-prof) and bench/pipeline.ts (the gateway's own CPU per call, in process, no HTTP).
 */
import { cpus, totalmem } from 'node:os';
import { cannon, holdStreams, measure, probe, type Result, type Target } from './load.js';
import { forkServer, rssMb, startConduit } from './servers.js';
import { benchConfig, benchTargets, messages, restBody, streamBody } from './targets.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
const only = process.env.BENCH_ONLY?.split(',');
const runs = (section: string) => !only || only.includes(section);
const profileDir = process.env.BENCH_PROFILE;

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const rows: string[] = [];
const out = (line = '') => {
  rows.push(line);
  console.log(line);
};

function table(title: string, results: [string, Result][], floor: string): void {
  const base = results.find(([name]) => name === floor)?.[1];
  out(`\n${title}\n`);
  out('| target | req/s | p50 ms | p99 ms | req/s × bare | p50 × bare | p99 × bare | failed |');
  out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, r] of results) {
    out(
      `| ${name} | ${fmt(r.rps, 0)} | ${r.p50} | ${r.p99} | ${base ? fmt(r.rps / base.rps) : '-'} | ` +
        `${base ? fmt(r.p50 / base.p50) : '-'} | ${base ? fmt(r.p99 / base.p99) : '-'} | ${r.failed} |`,
    );
  }
}

const checks: [string, boolean, string][] = [];
const check = (name: string, ok: boolean, figure: string) => checks.push([name, ok, figure]);

async function main(): Promise<void> {
  const upstream = await forkServer('upstream.ts');
  const proxy = await forkServer('proxy.ts', [upstream.url]);
  const conduitConfig = benchConfig(upstream.url);
  const conduit = await startConduit(
    conduitConfig,
    profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  );
  const { auth, miss, plain } = benchTargets(upstream.url, conduit.url, proxy.url);
  const ratio = (results: [string, Result][], name: string) =>
    results.find(([n]) => n === name)![1].rps / results.find(([n]) => n === 'bare proxy')![1].rps;

  out(`# Conduit bench, ${new Date().toISOString()}`);
  out(
    `\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB, ` +
      `Node ${process.version}, ${process.platform}. Each server in its own process; autocannon in a fourth; ` +
      `runs of ${seconds} s after ${warmup} s of warm-up.`,
  );
  out(`Conduit idle RSS: ${fmt(rssMb(conduit.pid), 0)} MB`);

  try {
    if (runs('plain')) {
      for (const connections of [1, 16, 64]) {
        const results: [string, Result][] = [];
        for (const target of plain)
          results.push([target.name, await measure(target, connections, seconds, warmup)]);
        table(`Non-streamed, cache missing, concurrency ${connections}`, results, 'bare proxy');
        const rest = ratio(results, 'Conduit REST');
        const gql = ratio(results, 'Conduit GraphQL complete');
        check(`REST ≥ 0.85 × bare, c=${connections}`, rest >= 0.85, fmt(rest));
        check(`GraphQL complete ≥ 0.60 × bare, c=${connections}`, gql >= 0.6, fmt(gql));
      }
    }

    if (runs('stream')) {
      const streamed: Target[] = [
        { ...plain[0]!, body: restBody(miss, true) },
        { ...plain[1]!, body: restBody(miss, true) },
        { ...plain[2]!, body: restBody(miss, true) },
        {
          name: 'Conduit GraphQL completionStream (SSE)',
          url: `${conduit.url}/graphql`,
          body: streamBody(miss),
          headers: { ...auth, accept: 'text/event-stream' },
        },
      ];
      for (const connections of [16]) {
        const results: [string, Result][] = [];
        for (const target of streamed)
          results.push([target.name, await measure(target, connections, seconds, warmup)]);
        table(
          `Streamed (20 chunks), cache missing, concurrency ${connections}`,
          results,
          'bare proxy',
        );
        const rest = ratio(results, 'Conduit REST');
        check(`streamed REST ≥ 0.85 × bare, c=${connections}`, rest >= 0.85, fmt(rest));
      }
    }

    if (runs('latency')) {
      const hit: Target = {
        ...plain[2]!,
        name: 'Conduit REST, cache hit',
        body: restBody('Say twenty words'),
      };
      await cannon(hit, 1, 1); // the first request stores the answer
      const probed = await probe([...plain, hit], Math.max(6, seconds));
      out('\nConcurrency 1, one request at a time, targets in turn (µs timing)\n');
      out('| target | p50 ms | p99 ms | requests |');
      out('| --- | ---: | ---: | ---: |');
      for (const [name, r] of probed)
        out(`| ${name} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${r.count} |`);
      const p50 = (name: string) => probed.get(name)!.p50;
      const added = p50('Conduit REST') - p50('upstream (direct)');
      const overBare = p50('Conduit REST') - p50('bare proxy');
      const gqlAdded = p50('Conduit GraphQL complete') - p50('upstream (direct)');
      out(
        `\nREST p50 added: ${fmt(added, 3)} ms over the upstream, ${fmt(overBare, 3)} ms over the bare proxy; ` +
          `GraphQL complete: ${fmt(gqlAdded, 3)} ms over the upstream`,
      );
      check(
        'REST p50 added latency < 1 ms, c=1 (over the upstream)',
        added < 1,
        `${fmt(added, 3)} ms`,
      );
      const hitP99 = probed.get(hit.name)!.p99;
      check('cache hit p99 < 2 ms, c=1', hitP99 < 2, `${fmt(hitP99, 3)} ms`);
      const many = await measure(hit, 16, seconds, warmup);
      out(
        `Cache hit at concurrency 16: ${fmt(many.rps, 0)} req/s, p99 ${many.p99} ms, failed ${many.failed}`,
      );
    }

    if (runs('hold')) {
      out(`\nConduit RSS after the runs above: ${fmt(rssMb(conduit.pid), 0)} MB`);
      // A fresh Conduit: what the streams cost, not what the runs above left in the heap.
      const fresh = await startConduit(conduitConfig);
      try {
        const slow: Target = {
          name: 'Conduit REST, slow streams',
          url: `${fresh.url}/v1/chat/completions`,
          headers: auth,
          body: JSON.stringify({
            model: 'mock/slow-1000',
            messages: messages('hold [<id>]'),
            stream: true,
          }),
        };
        await cannon({ ...plain[2]!, url: `${fresh.url}/v1/chat/completions` }, 4, 1); // warm
        const before = rssMb(fresh.pid);
        let held = NaN;
        const { opened, openMs } = await holdStreams(slow, 1000, () => (held = rssMb(fresh.pid)));
        out(
          `1,000 concurrent slow streams (a chunk every second) on a fresh Conduit: ${opened} open ` +
            `after ${fmt(openMs, 0)} ms; RSS ${fmt(before, 0)} MB before, ${fmt(held, 0)} MB while held`,
        );
        check(
          '1,000 slow streams held in < 200 MB RSS',
          opened === 1000 && held < 200,
          `${fmt(held, 0)} MB`,
        );
      } finally {
        await fresh.stop();
      }
    }
  } finally {
    await conduit.stop();
    await proxy.stop();
    await upstream.stop();
  }

  out('\nTargets\n');
  out('| target | figure | met |');
  out('| --- | ---: | --- |');
  for (const [name, ok, figure] of checks)
    out(`| ${name} | ${figure} | ${ok ? 'yes' : '**no**'} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
