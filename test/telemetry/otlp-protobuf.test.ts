/**
 * Conduit's OTLP/protobuf encoding (src/telemetry/otlp-protobuf.ts) against the SDK's own
 * serializer (`ProtobufTraceSerializer`, @opentelemetry/otlp-transformer): the same spans, made
 * by the SDK, give the same bytes. And the processor as tracing makes it (src/telemetry/export.ts,
 * `protobufProcessor`) sends them in batches to a real receiver, the last on shutdown.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  createTraceState,
  trace,
  type Span,
} from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ProtoWriter, encodeRequest, writeSpan } from '../../src/telemetry/otlp-protobuf.js';
import { protobufProcessor } from '../../src/telemetry/tracing.js';
import { onDispose } from '../helpers/dispose.js';
import { startReceiver } from './receiver.js';

const resource = resourceFromAttributes({
  'service.name': 'conduit',
  'telemetry.sdk.language': 'nodejs',
  'process.pid': 4242,
});
const scope = { name: 'conduit' };

/** Spans of every shape the encoder meets, made and ended by the SDK. */
function madeSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer(scope.name);
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
    isRemote: true,
    traceState: createTraceState('vendor=value,other=1'),
  });
  const server = tracer.startSpan(
    'POST /v1/chat/completions',
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions' },
    },
    remote,
  );
  server.addEvent('conduit.limits.admitted');
  server.addEvent('conduit.cache.lookup', {
    'conduit.cache.kind': 'semantic',
    'conduit.cache.result': 'miss',
    'conduit.cache.similarity': 0.8731,
  });
  const child = tracer.startSpan(
    'chat gpt-4o-mini',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.request.max_tokens': 64,
        'gen_ai.request.temperature': 0.2,
        'conduit.key_index': 0,
        'conduit.negative': -3,
        'conduit.large': 2 ** 40 + 7,
        'conduit.flag': true,
        'gen_ai.response.finish_reasons': ['stop', 'length'],
        'conduit.counts': [1, 2, 300],
        'gen_ai.input.messages': `[{"role":"user","parts":[{"type":"text","content":"héllo ✓ 🙂"}]}]`,
        'conduit.long': 'x'.repeat(20_000),
        'conduit.ascii': 'a'.repeat(47),
      },
      links: [{ context: server.spanContext(), attributes: { why: 'retry' } }],
    },
    trace.setSpan(remote, server),
  );
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream said 429: rate limited' });
  child.addEvent('exception', { 'exception.type': 'RATE_LIMITED', 'exception.message': 'ü' });
  child.end();
  const root: Span = tracer.startSpan('subscription CompletionStream', { kind: SpanKind.SERVER });
  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
  server.end();
  return memory.getFinishedSpans();
}

describe('OTLP protobuf encoding', () => {
  it("writes the SDK serializer's bytes, span for span", () => {
    const spans = madeSpans();
    expect(spans).toHaveLength(3);
    const writer = new ProtoWriter(16); // grows, many times over
    for (const span of spans) writeSpan(writer, span);
    const ours = encodeRequest(resource, scope, writer.buf.subarray(0, writer.pos));
    const sdk = ProtobufTraceSerializer.serializeRequest(spans)!;
    expect(Buffer.from(ours).equals(Buffer.from(sdk))).toBe(true);
  });

  it('batches spans to the collector, and sends what is left on shutdown', async () => {
    const receiver = await startReceiver();
    onDispose(() => receiver.close());
    // A delay no test waits out: only a full batch, or the shutdown, sends.
    const processor = await protobufProcessor({ url: `${receiver.url}/v1/traces` }, resource, {
      maxExportBatchSize: 2,
      scheduledDelayMillis: 600_000,
    });
    const spans = madeSpans();
    for (const span of spans) processor.onEnd(span);
    await receiver.post(() => true);
    expect(receiver.spans.map((s) => s.name)).toEqual(spans.slice(0, 2).map((s) => s.name));
    await processor.shutdown();
    expect(receiver.posts).toHaveLength(2);
    expect(receiver.spans.map((s) => s.name)).toEqual(spans.map((s) => s.name));
    const client = receiver.spans.find((s) => s.kind === 3)!;
    expect(client).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      status: { code: 2, message: 'upstream said 429: rate limited' },
      attributes: {
        'conduit.negative': -3,
        'conduit.flag': true,
        'gen_ai.response.finish_reasons': ['stop', 'length'],
        'gen_ai.request.temperature': 0.2,
      },
      resource: { 'service.name': 'conduit', 'process.pid': 4242 },
    });
    // Ended after shutdown: not sent.
    processor.onEnd(spans[0]!);
    await processor.forceFlush();
    expect(receiver.posts).toHaveLength(2);
  });
});
