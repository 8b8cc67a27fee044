/**
 * `node --import tsx bench/profile-groups.ts FILE.cpuprofile REQ_PER_S [SKIP_MS]`: a V8 CPU
 * profile (from `bench/profile.ts … DIR`) as wall time per request by group, the table in
 * docs/benchmarks.md. Each sample is charged to the first group matched from the innermost frame
 * outward; the first SKIP_MS (default 4,000: start-up and warm-up) are left out.
 */
import { readFileSync } from 'node:fs';

interface Profile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

type Test = (fn: string, url: string) => boolean;

const groups: [string, Test][] = [
  [
    'socket writes (writev)',
    (f, u) =>
      u === '' && /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeString)$/.test(f),
  ],
  ['idle', (f) => f === '(idle)'],
  ['GC', (f) => f === '(garbage collector)'],
  ['undici (upstream client)', (_, u) => u.includes('/undici/') || u.startsWith('wasm://')],
  ['log line', (_, u) => /dist\/log\.js|sonic-boom|\/pino\//.test(u)],
  ['usage store (SQLite)', (_, u) => /dist\/usage\/store|better-sqlite3|\/kysely\//.test(u)],
  [
    'rate limits and budget',
    (_, u) =>
      /dist\/state\/(limits|spend|maybe)|dist\/gateway\/admit|rate-limiter-flexible|dist\/usage\/tokens/.test(
        u,
      ),
  ],
  [
    'cache (key hash, LRU)',
    (_, u) => /dist\/state\/cache|lru-cache|dist\/gateway\/normalize|crypto\/hash/.test(u),
  ],
  ['metrics', (_, u) => /dist\/metrics|prom-client/.test(u)],
  [
    'transport (providers/http.js)',
    (_, u) => /dist\/providers\/http\.js|eventsource-parser/.test(u),
  ],
  ['provider translation', (_, u) => /dist\/providers\//.test(u)],
  [
    'GraphQL (Yoga envelop, graphql-js, schema)',
    (_, u) =>
      /\/graphql\/|graphql-yoga|@envelop|@whatwg-node|@pothos|dataloader|dist\/graphql\//.test(u),
  ],
  ['REST edge (parse, map, the answer)', (_, u) => /dist\/rest\//.test(u)],
  [
    'cancel signal and timers',
    (_, u) =>
      /abort_controller|event_target|internal\/timers|dist\/gateway\/(cancel|deadline)/.test(u),
  ],
  [
    'gateway (pipeline, routing, retries, auth, ids)',
    (_, u) => /dist\/gateway\/|cockatiel|dist\/auth|dist\/server|\/uuid\//.test(u),
  ],
  [
    'node:http server, net, streams',
    (_, u) => /node:_http|node:net|internal\/streams|stream_base|internal\/http|llhttp/.test(u),
  ],
];

const [file, rps, skip = '4000'] = process.argv.slice(2);
if (!file || !rps) throw new Error('usage: profile-groups.ts FILE.cpuprofile REQ_PER_S [SKIP_MS]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);

const spent = new Map<string, number>();
let total = 0;
let elapsed = 0;
profile.samples.forEach((sample, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  elapsed += delta;
  if (elapsed < Number(skip) * 1000) return;
  let group: string | undefined;
  for (let id: number | undefined = sample; id !== undefined && !group; id = parent.get(id)) {
    const { functionName, url } = byId.get(id)!.callFrame;
    group = groups.find(([, test]) => test(functionName, url))?.[0];
  }
  group ??= 'promises, microtasks, other';
  spent.set(group, (spent.get(group) ?? 0) + delta);
  total += delta;
});

const perRequest = 1e6 / Number(rps);
for (const [group, time] of [...spent].sort((a, b) => b[1] - a[1])) {
  const share = time / total;
  console.log(
    `${group.padEnd(48)} ${(share * perRequest).toFixed(1).padStart(6)} µs  ${(share * 100).toFixed(1)}%`,
  );
}
console.log(`${'total per request'.padEnd(48)} ${perRequest.toFixed(1).padStart(6)} µs`);
