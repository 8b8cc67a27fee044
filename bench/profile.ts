/**
 * `node --import tsx bench/profile.ts [rest|graphql|stream|graphql-sse] [connections] [seconds] [DIR]`:
 * Conduit (bench config) loaded by autocannon on one target; prints its CPU time per request
 * (user + system, from /proc: robust to other load on the machine, unlike req/s), and with DIR
 * runs it under --cpu-prof, writing the profile there.
 */
import { cannon } from './load.js';
import { cpuMs, forkServer, startConduit } from './servers.js';
import { benchConfig, benchTargets } from './targets.js';

const [which = 'rest', connections = '16', seconds = '8', dir] = process.argv.slice(2);

const upstream = await forkServer('upstream.ts');
const conduit = await startConduit(
  benchConfig(upstream.url),
  dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [],
);
const targets = benchTargets(upstream.url, conduit.url);
const target = {
  rest: targets.rest,
  graphql: targets.graphql,
  stream: targets.restStream,
  'graphql-sse': targets.graphqlSse,
}[which];
if (!target) throw new Error(`unknown target ${which}`);
try {
  await cannon(target, Number(connections), 2);
  const before = cpuMs(conduit.pid);
  const result = await cannon(target, Number(connections), Number(seconds));
  const used = cpuMs(conduit.pid) - before;
  const requests = result.rps * Number(seconds);
  console.log(
    `${which} c=${connections}: ${result.rps.toFixed(0)} req/s, ` +
      `${((used * 1000) / requests).toFixed(1)} µs CPU per request, failed ${result.failed}`,
  );
} finally {
  await conduit.stop();
  await upstream.stop();
}
