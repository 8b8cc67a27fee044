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
 *   BENCH_FRESH_WARMUP=30             tracing: the load each Conduit takes before it is measured
 *   BENCH_ONLY=plain,stream,ws,latency,ttft,hold,hold-ws,tracing,requestlog   sections to run (all by default)
 *   BENCH_TRACING_BASE=DIR            tracing: also run a build without tracing (off costs nothing?)
 *   BENCH_PROFILE=DIR                 run Conduit with --cpu-prof, profiles written to DIR
 *   BENCH_DIST=DIR                    run Conduit from another build (an A/B against an older commit)
 *   BENCH_NODE_ARGS="--flag …"        extra node flags for Conduit
 *   BENCH_HOLD_WS=100,1               hold-ws: subscriptions per socket, one fresh Conduit each
 *   BENCH_HOLD_WS_PACE=5000           hold-ws: ms between a stream's chunks
 *
 * Sections: plain (non-streamed, c=1/16/64), stream (20 chunks over SSE, c=16), ws
 * (`completionStream` over graphql-ws, c=16), latency (c=1, µs timing; cache hits), ttft (time
 * to first token of a paced stream, every transport), hold (1,000 slow REST streams), hold-ws
 * (10,000 slow graphql-ws subscriptions), tracing (the same Conduit with OpenTelemetry traces off
 * and on, exporting to a local OTLP sink: throughput on ÷ off), requestlog (throughput with the
 * request log on over off: a logged and an unlogged client of one Conduit in turns; bench/request-log.ts).
 *
 * Also: bench/profile.ts (one target, Conduit's CPU µs per request from /proc, optionally under
 * --cpu-prof) and bench/pipeline.ts (the gateway's own CPU per call, in process, no HTTP).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { cannon, holdStreams, measure, probe, type Result, type Target } from './load.js';
import { measureRequestLog } from './request-log.js';
import { cpuMs, fdLimit, forkServer, rssMb, startConduit, type Child } from './servers.js';
import {
  benchConfig,
  benchTargets,
  gqlInput,
  key,
  messages,
  restBody,
  streamBody,
} from './targets.js';
import { sseSampler, ttftConcurrent, ttftInTurn, wsSampler } from './ttft.js';
import { connect, holdSubscriptions, subscribeOnce, wsStreams, type WsTarget } from './ws-load.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
/** A Conduit started for one section, run before it is measured: until its cache and heap are grown. */
const freshWarmup = Number(process.env.BENCH_FRESH_WARMUP ?? 30);
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
  const rest = results.find(([name]) => name === 'Conduit REST')?.[1];
  out(`\n${title}\n`);
  out(
    '| target | req/s | p50 ms | p99 ms | req/s × bare | req/s × REST | p50 × bare | p99 × bare | failed |',
  );
  out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, r] of results) {
    out(
      `| ${name} | ${fmt(r.rps, 0)} | ${r.p50} | ${r.p99} | ${base ? fmt(r.rps / base.rps) : '-'} | ` +
        `${rest ? fmt(r.rps / rest.rps) : '-'} | ` +
        `${base ? fmt(r.p50 / base.p50) : '-'} | ${base ? fmt(r.p99 / base.p99) : '-'} | ${r.failed} |`,
    );
  }
}

/** The paced model of the time-to-first-token section: the first word alone, 5 ms in. */
const pacedModel = 'mock/ttft-5';
/** The slow model of the REST hold: a chunk a second, 23 s a stream. */
const slowModel = 'mock/slow-1000';
/**
 * The WebSocket hold's pace (BENCH_HOLD_WS_PACE ms between chunks): a chunk every 5 s by
 * default, 115 s a stream, so none ends while 10,000 open; at a chunk a second, 10,000 streams
 * are 10,000 events a second, which kept Conduit's one thread busy enough on the shared 2-core
 * machine that the handshakes of the later batches waited tens of seconds.
 */
const holdWsPace = Number(process.env.BENCH_HOLD_WS_PACE ?? 5000);
const wsUrl = (http: string) => `${http.replace(/^http/, 'ws')}/graphql`;
const wsTarget = (conduit: Child, model?: string, tag = 'ws'): WsTarget => ({
  url: wsUrl(conduit.url),
  authorization: `Bearer ${key}`,
  input: (i) => gqlInput(`Say twenty words ${tag}-${process.pid}-${i}`, model),
});

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
  const rpsOf = (results: [string, Result][], name: string) =>
    results.find(([n]) => n === name)![1].rps;
  const ratio = (results: [string, Result][], name: string, over = 'bare proxy') =>
    rpsOf(results, name) / rpsOf(results, over);
  /** REST streams per second at c=16, from the stream section (or measured by the ws section). */
  let restStreams: number | undefined;

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
        if (connections === 1) continue; // the targets are at 16 and 64
        const rest = ratio(results, 'Conduit REST');
        const gql = ratio(results, 'Conduit GraphQL complete', 'Conduit REST');
        check(`REST ≥ 0.60 × bare, c=${connections}`, rest >= 0.6, fmt(rest));
        check(`GraphQL complete ≥ 0.85 × REST, c=${connections}`, gql >= 0.85, fmt(gql));
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
        const sse = ratio(results, 'Conduit GraphQL completionStream (SSE)', 'Conduit REST');
        restStreams = rpsOf(results, 'Conduit REST');
        check(`streamed REST ≥ 0.55 × bare, c=${connections}`, rest >= 0.55, fmt(rest));
        check(
          `GraphQL completionStream over SSE ≥ 0.85 × REST streams, c=${connections}`,
          sse >= 0.85,
          fmt(sse),
        );
      }
    }

    if (runs('ws')) {
      const connections = 16;
      if (restStreams === undefined) {
        const rest = await measure(
          { ...plain[2]!, body: restBody(miss, true) },
          16,
          seconds,
          warmup,
        );
        restStreams = rest.rps;
        out(`\nConduit REST streamed (20 chunks), concurrency 16: ${fmt(rest.rps, 0)} req/s`);
      }
      await (await connect(wsTarget(conduit))).dispose(); // the first socket sets up what it needs
      // The CPU of both ends, warm-up included: the client is JavaScript in this process, and
      // at 100% of a core it, not Conduit, would set the pace.
      const conduitCpu = cpuMs(conduit.pid);
      const ownCpu = process.cpuUsage();
      const ws = await wsStreams(wsTarget(conduit), connections, seconds, warmup);
      const own = process.cpuUsage(ownCpu);
      const percent = (ms: number) => fmt(ms / (seconds + warmup) / 10, 0);
      const over = ws.rps / restStreams;
      out(
        `\nGraphQL completionStream over WebSocket (graphql-ws client, ${connections} sockets, one ` +
          `subscription each at a time), concurrency ${connections}: ${fmt(ws.rps, 0)} streams/s, ` +
          `${fmt(over)} × REST streams (${fmt(restStreams, 0)}), failed ${ws.failed}; CPU, % of a ` +
          `core: Conduit ${percent(cpuMs(conduit.pid) - conduitCpu)}, the bench's client ` +
          `${percent((own.user + own.system) / 1000)}`,
      );
      check(
        `GraphQL completionStream over WebSocket ≥ 0.85 × REST streams, c=${connections}`,
        over >= 0.85 && ws.failed === 0,
        fmt(over),
      );
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

    if (runs('ttft')) {
      const samplers = [
        sseSampler({ ...plain[1]!, body: restBody(miss, true, pacedModel) }),
        sseSampler({
          ...plain[2]!,
          name: 'Conduit REST (SSE)',
          body: restBody(miss, true, pacedModel),
        }),
        sseSampler({
          name: 'Conduit GraphQL (SSE)',
          url: `${conduit.url}/graphql`,
          body: streamBody(miss, pacedModel),
          headers: { ...auth, accept: 'text/event-stream' },
        }),
        wsSampler('Conduit GraphQL (WebSocket)', wsTarget(conduit, pacedModel, 'ttft-ws')),
      ];
      const alone = await ttftInTurn(samplers, Math.max(10, seconds));
      const loaded = new Map<string, Awaited<ReturnType<typeof ttftConcurrent>>>();
      for (const sampler of samplers) {
        await ttftConcurrent(sampler, 16, warmup);
        loaded.set(sampler.name, await ttftConcurrent(sampler, 16, seconds));
      }
      const bare = { alone: alone.get('bare proxy')!, loaded: loaded.get('bare proxy')! };
      out(
        `\nTime to first token, paced stream (${pacedModel}: the first word alone 5 ms after the ` +
          `role chunk), ms from the request to the bytes of the first word; "added" is over the ` +
          `bare proxy's time to the same bytes\n`,
      );
      out(
        '| transport | c=1 p50 | c=1 p99 | added p50, c=1 | c=16 p50 | c=16 p99 | added p99, c=16 | streams c=1 / c=16 |',
      );
      out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const { name } of samplers) {
        const a = alone.get(name)!;
        const l = loaded.get(name)!;
        const isBare = name === 'bare proxy';
        out(
          `| ${name} | ${fmt(a.p50, 3)} | ${fmt(a.p99, 3)} | ` +
            `${isBare ? '-' : fmt(a.p50 - bare.alone.p50, 3)} | ${fmt(l.p50, 3)} | ${fmt(l.p99, 3)} | ` +
            `${isBare ? '-' : fmt(l.p99 - bare.loaded.p99, 3)} | ${a.count} / ${l.count} |`,
        );
        if (isBare) continue;
        const added = a.p50 - bare.alone.p50;
        check(
          `added time to first token p50 < 1 ms, ${name}, c=1`,
          added < 1,
          `${fmt(added, 3)} ms`,
        );
      }
    }

    if (runs('tracing')) {
      await tracingSection(upstream.url, conduit, conduitConfig);
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
            model: slowModel,
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
    if (runs('hold-ws')) {
      const perSockets = (process.env.BENCH_HOLD_WS ?? '100,1').split(',').map(Number);
      for (const perSocket of perSockets) {
        const fresh = await startConduit(conduitConfig);
        // One socket per subscription costs Conduit two descriptors a stream (the client's
        // socket and the upstream's): the count is bounded by the open-files limits, said when
        // it bites.
        const room = Math.min(
          Math.floor((fdLimit(fresh.pid) - 256) / (perSocket === 1 ? 2 : 1)),
          fdLimit('self') - 256,
          fdLimit(upstream.pid) - 1024,
        );
        const count = Math.min(10_000, room);
        out(
          `\n${count.toLocaleString('en')} concurrent slow graphql-ws subscriptions ` +
            `(mock/slow-${holdWsPace}: a chunk every ${holdWsPace} ms, a stream started again ` +
            `when it ends), ${perSocket} per socket ` +
            `(${Math.ceil(count / perSocket).toLocaleString('en')} sockets), on a fresh Conduit` +
            (count < 10_000 ? ` (fewer than 10,000: the open-files limits allow ${room})` : ''),
        );
        try {
          // Warm: a few streams, so what is measured is the subscriptions, not the first use.
          const warm = await connect(wsTarget(fresh));
          for (let i = 0; i < 4; i++) await subscribeOnce(warm, gqlInput(`warm ${i}`));
          await warm.dispose();
          const before = rssMb(fresh.pid);
          let held = 0;
          let atOnce = NaN;
          let cpu = NaN;
          const result = await holdSubscriptions(
            wsTarget(fresh, `mock/slow-${holdWsPace}`, 'hold'),
            {
              count,
              perSocket,
              batch: Math.max(1, Math.floor(500 / perSocket)),
              timeoutMs: 60_000,
            },
            async () => {
              // The largest of six samples over 3 s: the streams' chunks come and go.
              const cpuBefore = cpuMs(fresh.pid);
              for (let i = 0; i < 6; i++) {
                const rss = rssMb(fresh.pid);
                if (i === 0) atOnce = rss;
                held = Math.max(held, rss);
                await new Promise((resolve) => setTimeout(resolve, 500));
              }
              cpu = (cpuMs(fresh.pid) - cpuBefore) / 30; // per cent of a core over 3 s
            },
          );
          const perStream = ((held - before) * 1024) / result.active;
          const projected = before + (perStream * 10_000) / 1024;
          out(
            `${result.active.toLocaleString('en')} streaming after ${fmt(result.openMs, 0)} ms ` +
              `(failed ${result.failed}); Conduit RSS ${fmt(before, 0)} MB before, ${fmt(atOnce, 0)} MB ` +
              `when all were streaming, at most ${fmt(held, 0)} MB over the next 3 s: ` +
              `${fmt(perStream, 1)} KB a stream (at most); Conduit's CPU meanwhile ${fmt(cpu, 0)}% ` +
              `of a core` +
              (count < 10_000 ? `, ${fmt(projected, 0)} MB projected for 10,000` : ''),
          );
          const all = result.active === count && result.failed === 0;
          check(
            count === 10_000
              ? `10,000 WebSocket subscriptions (${perSocket} per socket) held in < 700 MB RSS`
              : `10,000 WebSocket subscriptions (${perSocket} per socket) < 700 MB RSS, ` +
                  `projected from ${count.toLocaleString('en')}`,
            all && projected < 700,
            `${fmt(count === 10_000 ? held : projected, 0)} MB` +
              (all ? '' : ` (${result.active} held)`),
          );
        } finally {
          await fresh.stop();
        }
      }
    }
    if (runs('requestlog')) {
      const log = await measureRequestLog(conduitConfig, upstream.url, seconds, warmup);
      out(
        '\nRequest log, non-streamed REST, concurrency 16, one Conduit, a logged and an unlogged client in turns\n',
      );
      out('| turn | log off req/s | log on req/s | on × off | off CPU µs/req | on CPU µs/req |');
      out('| --- | ---: | ---: | ---: | ---: | ---: |');
      log.off.forEach((off, i) => {
        const on = log.on[i]!;
        out(
          `| ${i + 1} | ${fmt(off.rps, 0)} | ${fmt(on.rps, 0)} | ${fmt(on.rps / off.rps)} | ` +
            `${fmt(off.cpuUsPerRequest, 0)} | ${fmt(on.cpuUsPerRequest, 0)} |`,
        );
      });
      out(
        `\nOn × off, summed throughput: ${fmt(log.ratio)}; CPU per request on × off: ` +
          `${fmt(log.cpuRatio)}; entries the logged client sees: ${log.logged}; failed: ` +
          `${[...log.off, ...log.on].reduce((n, r) => n + r.failed, 0)}`,
      );
      check(
        'request log on costs < 10% of throughput',
        log.ratio > 0.9 && log.logged > 0,
        fmt(log.ratio),
      );
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

/**
 * Tracing on against off: the same config, one Conduit exporting every request's spans (sampled
 * all) over OTLP/HTTP to a sink in its own process, the other (the run's own Conduit) with
 * tracing off. Every request carries a `traceparent`, as a traced browser's would. A third
 * Conduit keeps one new trace in ten (`sampleRatio: 0.1`, requests without a `traceparent`), as
 * an operator would under load: shown, not checked. They are measured in turn, three times, the
 * order turned each round, so drift in the machine's load lands on all alike; the figure is the
 * mean of each. With BENCH_TRACING_BASE, a build from before tracing runs too: off against it.
 */
async function tracingSection(
  upstreamUrl: string,
  off: Child,
  config: ReturnType<typeof benchConfig>,
): Promise<void> {
  const sink = await forkServer('otlp-sink.ts');
  const traced = { ...config, telemetry: { otlpEndpoint: sink.url } };
  const on = await startConduit(traced);
  // What an operator would run under load: one new trace in ten kept (requests without a
  // traceparent, so that the ratio decides). Shown beside the target, not checked.
  const tenth = await startConduit({
    ...traced,
    telemetry: { ...traced.telemetry, sampleRatio: 0.1 },
  });
  const baseDist = process.env.BENCH_TRACING_BASE;
  const base = baseDist ? await startConduitFrom(baseDist, config) : undefined;
  const sampled = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const runsOf: [string, Child, string | undefined][] = [
    ['off', off, sampled],
    ['on', on, sampled],
    ['on, 10% sampled', tenth, undefined],
    ...(base ? ([['before tracing', base, sampled]] as [string, Child, string][]) : []),
  ];
  const targetsOf = (conduit: Child, traceparent: string | undefined) => {
    const { rest, graphql } = benchTargets(upstreamUrl, conduit.url);
    return [rest, graphql].map((t) =>
      traceparent === undefined ? t : { ...t, headers: { ...t.headers, traceparent } },
    );
  };
  const connections = 16;
  try {
    // A fresh Conduit grows for its first ~30 s of load (its cache and heap fill), costing more
    // a request meanwhile: each is run that long before it is measured (the run's own too, which
    // is fresh when this section runs alone).
    for (const [, conduit, traceparent] of runsOf)
      await cannon(targetsOf(conduit, traceparent)[0]!, connections, freshWarmup);
    out(
      `
Tracing: the same Conduit with traces off and on (every request sampled: its traceparent says so; ` +
        `OTLP/HTTP protobuf, the default, to a local sink that answers 200), and on with ` +
        `\`sampleRatio: 0.1\` (requests without a traceparent: one in ten recorded; shown, not a target), ` +
        `concurrency ${connections}, each measured three times in turn, the order turned each round; mean req/s
`,
    );
    out(
      `| target | ${runsOf.map(([name]) => `req/s ${name}`).join(' | ')} | req/s on ÷ off | ` +
        `req/s 10% ÷ off | ${runsOf.map(([name]) => `CPU µs/req ${name}`).join(' | ')} | ` +
        `CPU on ÷ off | failed (on, 10%) |`,
    );
    out(
      `| --- | ${[...runsOf, ...runsOf].map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: |`,
    );
    for (let t = 0; t < 2; t++) {
      const rps = new Map<string, number[]>();
      const cpu = new Map<string, number[]>();
      const add = (into: Map<string, number[]>, name: string, value: number) =>
        (into.get(name) ?? into.set(name, []).get(name)!).push(value);
      let failedOn = 0;
      // Three rounds, the order turned each time (off, on; on, off; off, on): a drift in the
      // machine's speed over the minute lands on both sides alike.
      for (let round = 0; round < 3; round++) {
        for (const [name, conduit, traceparent] of round % 2 ? [...runsOf].reverse() : runsOf) {
          const target = targetsOf(conduit, traceparent)[t]!;
          await cannon(target, connections, warmup);
          const before = cpuMs(conduit.pid);
          const result = await cannon(target, connections, seconds);
          add(rps, name, result.rps);
          add(cpu, name, ((cpuMs(conduit.pid) - before) * 1000) / (result.rps * seconds));
          if (name !== 'off') failedOn += result.failed;
        }
      }
      const mean = (of: Map<string, number[]>, name: string) =>
        of.get(name)!.reduce((a, b) => a + b, 0) / of.get(name)!.length;
      const ratio = mean(rps, 'on') / mean(rps, 'off');
      const tenthRatio = mean(rps, 'on, 10% sampled') / mean(rps, 'off');
      const cpuRatio = mean(cpu, 'on') / mean(cpu, 'off');
      const name = targetsOf(off, sampled)[t]!.name;
      out(
        `| ${name} | ${runsOf.map(([n]) => fmt(mean(rps, n), 0)).join(' | ')} | ${fmt(ratio)} | ` +
          `${fmt(tenthRatio)} | ` +
          `${runsOf.map(([n]) => fmt(mean(cpu, n), 1)).join(' | ')} | ${fmt(cpuRatio)} | ${failedOn} |`,
      );
      check(`tracing on ≥ 0.85 × off, ${name}, c=${connections}`, ratio >= 0.85, fmt(ratio));
      if (base) {
        // CPU per request: what the machine's other load moves least.
        const offOverBase = mean(cpu, 'off') / mean(cpu, 'before tracing');
        check(
          `tracing off: CPU per request ≤ 1.03 × before tracing, ${name}`,
          offOverBase <= 1.03,
          fmt(offOverBase),
        );
      }
    }
    const stats = (await (await fetch(`${sink.url}/stats`)).json()) as {
      exports: number;
      bytes: number;
    };
    out(
      `
The sink received ${stats.exports} exports, ${fmt(stats.bytes / 2 ** 20, 1)} MiB. ` +
        `Load average: ${loadavg()
          .map((l) => fmt(l))
          .join(', ')}`,
    );
  } finally {
    await on.stop();
    await tenth.stop();
    await base?.stop();
    await sink.stop();
  }
}

/** A Conduit from another build's `dist/` (BENCH_DIST, for this one start only). */
async function startConduitFrom(dist: string, config: Record<string, unknown>): Promise<Child> {
  const was = process.env.BENCH_DIST;
  process.env.BENCH_DIST = dist;
  try {
    return await startConduit(config);
  } finally {
    if (was === undefined) delete process.env.BENCH_DIST;
    else process.env.BENCH_DIST = was;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
