/**
 * `node --import tsx bench/pipeline.ts [calls]`: the gateway's own CPU per `complete()`, in
 * process, with no HTTP on either side: the echo provider, the bench's client (key, request and
 * token limits, a budget), the cache missing, usage recorded to SQLite, info logs to a file.
 * With `--cpu-prof` it shows where the pipeline's time goes without the I/O's noise.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import type { ChatRequest } from '../src/gateway/types.js';
import { createDestination, createLogger } from '../src/log.js';
import { createConduit } from '../src/server.js';
import { benchConfig, key } from './targets.js';

const calls = Number(process.argv[2] ?? 100_000);
const concurrency = 16;
const dir = mkdtempSync(join(tmpdir(), 'conduit-pipeline-'));
const config = parseConfig(
  {
    ...benchConfig(''),
    providers: { echo: { type: 'echo' } },
    database: { url: `sqlite:${join(dir, 'usage.db')}` },
  },
  process.env,
);
const logger = createLogger('info', createDestination({ dest: join(dir, 'log.txt') }));
const conduit = await createConduit(config, { logger });
const { gateway, auth } = conduit.services;
const caller = auth.authenticate(`Bearer ${key}`);

let n = 0;
const request = (): ChatRequest => ({
  model: 'echo/echo-1',
  messages: [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: `Say twenty words ${n++}` },
  ],
  maxTokens: 64,
  cache: 'DEFAULT',
});
async function run(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await gateway.complete(request(), caller);
}

await run(20_000); // warm-up
const started = performance.now();
const cpu = process.cpuUsage();
await Promise.all(Array.from({ length: concurrency }, () => run(calls / concurrency)));
const wall = performance.now() - started;
const used = process.cpuUsage(cpu);
console.log(
  `${((wall * 1000) / calls).toFixed(1)} µs wall, ` +
    `${((used.user + used.system) / calls).toFixed(1)} µs CPU per complete() (${calls} calls)`,
);
await conduit.stop();
