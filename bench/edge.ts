/**
 * `NODE_ENV=production node --import tsx bench/edge.ts [BUILD_DIR…]`: the CPU of the GraphQL
 * edge alone, in process, for each build given (default `dist`), measured in alternating rounds
 * so that the machine's other load falls on every build alike: one `complete` mutation (the
 * body parsed, the document checked, the context made, the operation run, the answer
 * serialized) and one `completionStream` subscription of 21 chunks (checked, context, subscribe,
 * every event read and stringified), the gateway replaced by an answer at hand. An A/B of
 * transport changes without HTTP, the upstream or the gateway's own work in the figure
 * (`bench/profile.ts` measures the whole server).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { processRegularResult } from 'graphql-yoga';
import { benchConfig, completeBody, key, streamBody } from './targets.js';

const dirs = (process.argv.length > 2 ? process.argv.slice(2) : ['dist']).map((d) => resolve(d));
const rounds = Number(process.env.ROUNDS ?? 5);

const answer = {
  id: 'c1',
  provider: 'mock',
  model: 'gpt-4o-mini',
  content: 'hello world',
  toolCalls: [],
  finishReason: 'STOP',
  usage: { promptTokens: 10, completionTokens: 20, totalTokens: 30, cachedPromptTokens: 0 },
  costUsd: 0.001,
  cached: false,
  latencyMs: 1,
  attempts: [],
};
const chunk = (i: number, done: boolean) => ({
  id: 'c1',
  provider: 'mock',
  model: 'gpt-4o-mini',
  delta: done ? '' : `word${i} `,
  done,
  finishReason: done ? 'STOP' : null,
  usage: done ? { promptTokens: 1, completionTokens: 20, totalTokens: 21 } : null,
  toolCalls: null,
});
async function* chunks() {
  for (let i = 0; i <= 20; i++) yield chunk(i, i === 20);
}

/** processRegularResult only constructs a Response: a stand-in, as the transport's. */
class Captured {
  constructor(
    readonly body: string,
    readonly init: unknown,
  ) {}
}
const capture = { Response: Captured } as unknown as Parameters<typeof processRegularResult>[1];
const completes = Array.from({ length: 1000 }, (_, i) => Buffer.from(completeBody(`edge ${i}`)));
const stream = Buffer.from(streamBody('edge'));

interface Build {
  name: string;
  complete: () => Promise<unknown>;
  subscription: () => Promise<unknown>;
}

async function load(dir: string): Promise<Build> {
  const { parseConfig } = await import(`${dir}/config/load.js`);
  const { createDestination, createLogger } = await import(`${dir}/log.js`);
  const { createConduit } = await import(`${dir}/server.js`);
  const { createConduitYoga } = await import(`${dir}/graphql/yoga.js`);
  const { createOperationRunner } = await import(`${dir}/graphql/transport/runner.js`);
  const { paramsOf } = await import(`${dir}/graphql/transport/negotiate.js`);
  const { Cancel } = await import(`${dir}/gateway/cancel.js`);
  const data = mkdtempSync(join(tmpdir(), 'conduit-edge-'));
  const config = parseConfig(
    {
      ...benchConfig(''),
      providers: { echo: { type: 'echo' } },
      database: { url: `sqlite:${join(data, 'usage.db')}` },
    },
    process.env,
  );
  const logger = createLogger('info', createDestination({ dest: join(data, 'log.txt') }));
  const conduit = await createConduit(config, { logger });
  const services = Object.create(conduit.services);
  services.gateway = { complete: async () => answer, stream: async () => chunks() };
  const yoga = createConduitYoga(() => services);
  const runner = createOperationRunner(yoga);
  const edge = () => ({ authorization: `Bearer ${key}`, origin: null, cancel: new Cancel() });
  let i = 0;
  const started = async (body: Buffer) => {
    const checked = runner.check(paramsOf(body), edge());
    if ('errors' in checked) throw new Error(checked.errors[0].message);
    const ready = await runner.start(checked);
    if ('refused' in ready) throw new Error(ready.refused.message);
    return ready;
  };
  return {
    name: dir,
    complete: async () => {
      const result = await runner.execute(await started(completes[i++ % 1000]!));
      if (result.errors) throw new Error(result.errors[0].message);
      return processRegularResult(result, capture, 'application/json');
    },
    subscription: async () => {
      const events: AsyncIterable<any> = await runner.subscribe(await started(stream));
      let n = 0;
      for await (const event of events) n += JSON.stringify(event).length;
      return n;
    },
  };
}

const builds: Build[] = [];
for (const dir of dirs) builds.push(await load(dir));
// graphql-jit loads on the first mutation (file reads): let it, then warm every build up.
for (const build of builds) await build.complete();
await new Promise((resolve) => setTimeout(resolve, 200));
for (const build of builds) {
  for (let i = 0; i < 10_000; i++) await build.complete();
  for (let i = 0; i < 1_000; i++) await build.subscription();
}

async function cpu(run: () => Promise<unknown>, times: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < times; i++) await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / times;
}

const figures = new Map<string, { complete: number[]; subscription: number[] }>();
for (let round = 0; round < rounds; round++) {
  for (const build of builds) {
    const mine = figures.get(build.name) ?? { complete: [], subscription: [] };
    figures.set(build.name, mine);
    mine.complete.push(await cpu(build.complete, 20_000));
    mine.subscription.push(await cpu(build.subscription, 2_000));
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
for (const [name, { complete, subscription }] of figures) {
  console.log(
    `${name}: complete ${median(complete).toFixed(1)} µs (${complete.map((v) => v.toFixed(1)).join(', ')}); ` +
      `completionStream ${median(subscription).toFixed(1)} µs a stream (${subscription.map((v) => v.toFixed(1)).join(', ')})`,
  );
}
process.exit(0);
