/**
 * `node --import tsx bench/tracing.ts [requests]`: the CPU that tracing adds to one request, in
 * process: a request's spans as the pipeline makes them (a server span continuing a
 * `traceparent`, its events, one try's client span with the GenAI attributes), ended, batched
 * and exported over OTLP/HTTP to a sink in this process that answers 200. Prints µs of CPU per
 * request (user + system of this process, export included), to set beside Conduit's own CPU
 * per request (`bench/profile.ts`), and the bytes exported per request. The encoding is the
 * default (protobuf) unless `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json`.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../src/config/load.js';
import { createTracing } from '../src/telemetry/tracing.js';
import type { ChatRequest, Target, Usage } from '../src/gateway/types.js';

const requests = Number(process.argv[2] ?? 50_000);

let received = 0;
const sink = createServer((req, res) => {
  req.on('data', (chunk: Buffer) => (received += chunk.length));
  req.on('end', () => res.end('{}'));
});
sink.listen(0, '127.0.0.1');
await once(sink, 'listening');
const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const config = parseConfig(
  { providers: { mock: { type: 'echo' } }, telemetry: { otlpEndpoint: url } },
  {},
);
const tracing = (await createTracing(config.telemetry))!;
const request: ChatRequest = {
  model: 'mock/gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say twenty words' }],
  maxTokens: 64,
  cache: 'DEFAULT',
};
const target: Target = { provider: 'mock', model: 'gpt-4o-mini', weight: 1 };
const usage: Usage = {
  promptTokens: 20,
  completionTokens: 20,
  totalTokens: 40,
  cachedPromptTokens: 0,
  estimated: false,
};
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function oneRequest(i: number): void {
  const span = tracing.startRequest(
    {
      name: 'POST /v1/chat/completions',
      attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions' },
    },
    traceparent,
  );
  const turn = span.turn(`req-${i}`, 'bench', 'chat');
  turn.admitted(undefined);
  turn.cache('exact', 'miss');
  turn.startTry('openai', target, request, 0)!.succeeded();
  turn.answered({ model: 'gpt-4o-mini', usage, content: null, finishReason: 'STOP' });
  span.end(200);
}

/** Runs `count` requests in batches of 100, a macrotask between (the exporter's timers run). */
async function run(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    oneRequest(i);
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  await tracing.flush();
}

await run(Math.min(10_000, requests)); // warm-up
received = 0;
const before = process.cpuUsage();
const started = performance.now();
await run(requests);
const cpu = process.cpuUsage(before);
const micros = (cpu.user + cpu.system) / requests;
console.log(
  `tracing: ${micros.toFixed(1)} µs of CPU per request (${requests} requests, ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s), export included; ` +
    `${(received / requests).toFixed(0)} bytes exported per request`,
);
await tracing.shutdown();
sink.close();
