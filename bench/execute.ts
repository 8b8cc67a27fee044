/**
 * `node --import tsx bench/execute.ts`: the CPU of executing one `complete` mutation (the bench's
 * document and variables) in process, the gateway replaced by an answer at hand: graphql-js's
 * `execute` against the transport's `executeOperation` (graphql-jit's plan once a document has
 * run 100 times, `src/graphql/transport/execute.ts`), and what compiling the document costs once. process.cpuUsage over a fixed number of runs, alternating, three rounds.
 */
import { execute, parse } from 'graphql';
import { compileQuery } from 'graphql-jit';
import { schema } from '../src/graphql/schema/index.js';
import { executeOperation } from '../src/graphql/transport/execute.js';
import { completeBody } from './targets.js';

const body = JSON.parse(completeBody('Say twenty words [x]')) as {
  query: string;
  variables: Record<string, unknown>;
};
const document = parse(body.query);
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
const contextValue = { services: { gateway: { complete: async () => answer } } };
const args = () => ({
  schema,
  document,
  contextValue,
  variableValues: body.variables,
  operationName: 'Complete',
});

const runs = 20_000;
async function cpu(run: () => unknown): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < runs; i++) await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / runs;
}

const a = JSON.stringify(await execute(args()));
const b = JSON.stringify(await executeOperation(args()));
for (let i = 0; i < 100; i++) await executeOperation(args());
// graphql-jit is loaded on the first run (file reads: a turn of the event loop).
await import('graphql-jit');
await new Promise((resolve) => setImmediate(resolve));
const c = JSON.stringify(await executeOperation(args()));
if (a !== b || a !== c) throw new Error(`different results: ${a} ${b} ${c}`);

const compileStart = process.cpuUsage();
for (let i = 0; i < 100; i++) compileQuery(schema, document, 'Complete');
const compileUsed = process.cpuUsage(compileStart);
console.log(
  `compiling the document: ${((compileUsed.user + compileUsed.system) / 100).toFixed(0)} µs`,
);
for (let round = 1; round <= 3; round++) {
  const js = await cpu(() => execute(args()));
  const compiled = await cpu(() => executeOperation(args()));
  console.log(
    `round ${round}: graphql-js ${js.toFixed(1)} µs, compiled ${compiled.toFixed(1)} µs a mutation`,
  );
}
