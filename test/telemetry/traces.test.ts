/**
 * OpenTelemetry traces end to end: a real Conduit exporting over OTLP/HTTP to a receiver this
 * test runs (`receiver.ts`), with a fake OpenAI upstream on two keys. REST, GraphQL over HTTP
 * and a subscription over WebSocket each continue the caller's `traceparent`, answer the trace
 * id in `x-conduit-trace-id` (HTTP), and give one client span per upstream try with the GenAI
 * attributes; the prompt is on no span unless `telemetry.captureContent` is on.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { startReceiver, type ReceivedSpan, type Receiver } from './receiver.js';

const appKey = 'ck-telemetry-app';
const upstreamKeys = { K1: 'sk-telemetry-one', K2: 'sk-telemetry-two' };
const pageOrigin = 'https://app.example';
const SERVER = 2;
const CLIENT = 3;

let fake: ProviderFake;
let receiver: Receiver;

/** A fresh W3C parent: its trace id and span id, and the `traceparent` naming them. */
function parent() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** A prompt no span should hold unless content capture is on. */
const secretPrompt = () => `the prompt ${randomBytes(6).toString('hex')}`;

const childrenOf = (spans: ReceivedSpan[], span: ReceivedSpan) =>
  spans.filter((s) => s.parentSpanId === span.spanId);

/** The trace's server span and its `tries` client spans, once all are in. */
async function traceOf(traceId: string, tries: number) {
  const spans = await receiver.trace(traceId, (found) => {
    const server = found.find((s) => s.kind === SERVER);
    return server !== undefined && childrenOf(found, server).length >= tries;
  });
  const server = spans.find((s) => s.kind === SERVER)!;
  return { spans, server, tries: childrenOf(spans, server) };
}

/** A Conduit exporting to `telemetry` (protobuf, the default, unless told `http/json`). */
async function conduitWith(
  telemetry: Record<string, unknown>,
  protocol: 'http/json' | 'default' = 'default',
): Promise<TestConduit> {
  return startConduit(
    {
      providers: {
        openai: {
          type: 'openai',
          baseUrl: fake.baseUrl,
          keys: ['${K1}', '${K2}'],
          models: ['gpt-4o-mini'],
        },
      },
      models: { smart: { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
      clients: [{ id: 'app', key: appKey }],
      retry: { attempts: 1 },
      server: { cors: { origins: [pageOrigin] } },
      telemetry: protocol === 'default' ? telemetry : { protocol, ...telemetry },
    },
    upstreamKeys,
  );
}

beforeAll(async () => {
  // Spans leave in batches every 10 ms rather than every 5 s (the SDK reads it when started).
  process.env.OTEL_BSP_SCHEDULE_DELAY = '10';
  fake = await createOpenAIFake({ keys: Object.values(upstreamKeys) });
  onDispose(() => fake.close());
  receiver = await startReceiver();
  onDispose(() => receiver.close());
});

afterAll(() => {
  delete process.env.OTEL_BSP_SCHEDULE_DELAY;
});

describe('traces', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await conduitWith({ otlpEndpoint: receiver.url, serviceName: 'conduit-test' });
  });

  it('REST: continues the traceparent; a 429 then a success on the other key are two tries', async () => {
    const { traceId, spanId, traceparent } = parent();
    const prompt = secretPrompt();
    fake.next(
      { fail: 'rate_limited' },
      { text: 'fine thanks', usage: { prompt: 9, completion: 2 } },
    );
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${appKey}`,
        'content-type': 'application/json',
        traceparent,
      },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: prompt }] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-conduit-trace-id')).toBe(traceId);
    const requestId = response.headers.get('x-request-id');

    const { spans, server, tries } = await traceOf(traceId, 2);
    expect(server).toMatchObject({
      name: 'POST /v1/chat/completions',
      parentSpanId: spanId,
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/v1/chat/completions',
        'http.response.status_code': 200,
        'conduit.request_id': requestId,
        'conduit.client_id': 'app',
      },
      resource: { 'service.name': 'conduit-test' },
    });
    const events = server.events.map((e) => e.name);
    expect(events).toContain('conduit.limits.admitted');
    expect(server.events).toContainEqual({
      name: 'conduit.cache.lookup',
      attributes: { 'conduit.cache.kind': 'exact', 'conduit.cache.result': 'miss' },
    });

    expect(tries).toHaveLength(2);
    const failed = tries.find((t) => t.attributes['error.type'] === 'rate_limited')!;
    const ok = tries.find((t) => t !== failed)!;
    expect(failed).toMatchObject({
      kind: CLIENT,
      name: 'chat gpt-4o-mini',
      status: { code: 2 },
      attributes: { 'http.response.status_code': 429, 'gen_ai.system': 'openai' },
    });
    expect(failed.events.map((e) => e.name)).toEqual(['exception']);
    expect(ok).toMatchObject({
      kind: CLIENT,
      name: 'chat gpt-4o-mini',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.response.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 9,
        'gen_ai.usage.output_tokens': 2,
        'gen_ai.response.finish_reasons': ['stop'],
        'conduit.provider': 'openai',
        'conduit.request_id': requestId,
      },
    });
    expect(ok.status.code ?? 0).not.toBe(2);
    // Another key answered than the one that was refused.
    expect(ok.attributes['conduit.key_index']).not.toBe(failed.attributes['conduit.key_index']);
    // Neither the prompt nor any key is on a span.
    const shown = JSON.stringify(spans);
    expect(shown).not.toContain(prompt);
    for (const key of Object.values(upstreamKeys)) expect(shown).not.toContain(key);
    expect(shown).not.toContain(appKey);
    // The request's log line names its request and trace.
    const line = gw.logs.find((l) => l.includes(`"requestId":"${requestId}"`));
    expect(line).toContain(`"traceId":"${traceId}"`);
  });

  it('lets a page send traceparent and read x-conduit-trace-id', async () => {
    const preflight = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: pageOrigin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.headers.get('access-control-allow-headers')).toContain('traceparent');
    const { traceparent, traceId } = parent();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        origin: pageOrigin,
        authorization: `Bearer ${appKey}`,
        'content-type': 'application/json',
        traceparent,
      },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.headers.get('x-conduit-trace-id')).toBe(traceId);
    expect(response.headers.get('access-control-expose-headers')).toContain('x-conduit-trace-id');
  });

  it('REST: a failed request is recorded on its span', async () => {
    const { traceId, traceparent } = parent();
    fake.next({ fail: 'server' });
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${appKey}`,
        'content-type': 'application/json',
        traceparent,
      },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(response.status).toBe(502);
    const { server, tries } = await traceOf(traceId, 1);
    expect(tries[0]).toMatchObject({ status: { code: 2 }, attributes: { 'error.type': 'server' } });
    expect(server.status.code).toBe(2);
    expect(server.attributes).toMatchObject({
      'error.type': 'UPSTREAM_ERROR',
      'http.response.status_code': 502,
    });
    expect(server.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({
      'exception.type': 'UPSTREAM_ERROR',
    });
  });

  const chat = (stream: boolean) =>
    JSON.stringify({
      model: 'smart',
      stream,
      messages: [{ role: 'user', content: secretPrompt() }],
    });
  const complete = (input: string) =>
    JSON.stringify({
      query: `mutation { complete(input: { model: "smart", messages: [{ role: USER, content: "${input}" }] }) { content } }`,
    });
  const subscribe = (input: string) =>
    JSON.stringify({
      query: `subscription { completionStream(input: { model: "smart", messages: [{ role: USER, content: "${input}" }] }) { delta } }`,
    });
  it.each([
    ['REST', '/v1/chat/completions', 200, {}, () => chat(false)],
    ['REST streamed', '/v1/chat/completions', 200, {}, () => chat(true)],
    [
      'REST refused (a bad key)',
      '/v1/chat/completions',
      401,
      { authorization: 'Bearer ck-wrong' },
      () => chat(false),
    ],
    ['REST bad input', '/v1/chat/completions', 400, {}, () => '{"model":'],
    [
      'Anthropic messages',
      '/v1/messages',
      200,
      {},
      () =>
        JSON.stringify({
          model: 'smart',
          max_tokens: 16,
          messages: [{ role: 'user', content: secretPrompt() }],
        }),
    ],
    ['GraphQL', '/graphql', 200, {}, () => complete('hi')],
    ['GraphQL over SSE', '/graphql', 200, { accept: 'text/event-stream' }, () => subscribe('hi')],
    [
      'GraphQL request error',
      '/graphql',
      400,
      { accept: 'application/graphql-response+json' },
      () => '{"query":"{"}',
    ],
  ])('%s: the head carries x-conduit-trace-id', async (_, path, status, headers, body) => {
    const { traceId, traceparent } = parent();
    const response = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${appKey}`,
        'content-type': 'application/json',
        traceparent,
        ...headers,
      },
      body: body(),
    });
    await response.arrayBuffer();
    expect(response.status).toBe(status);
    expect(response.headers.get('x-conduit-trace-id')).toBe(traceId);
  });

  it('REST: a request without traceparent starts a trace of its own', async () => {
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${appKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'smart',
        messages: [{ role: 'user', content: secretPrompt() }],
      }),
    });
    expect(response.status).toBe(200);
    const traceId = response.headers.get('x-conduit-trace-id')!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const { server } = await traceOf(traceId, 1);
    expect(server.parentSpanId).toBeUndefined();
  });

  it('REST: an unsampled traceparent is continued, and nothing of it recorded', async () => {
    const headers = { authorization: `Bearer ${appKey}`, 'content-type': 'application/json' };
    const body = () =>
      JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: secretPrompt() }] });
    const unsampled = parent();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...headers, traceparent: unsampled.traceparent.replace(/-01$/, '-00') },
      body: body(),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-conduit-trace-id')).toBe(unsampled.traceId);
    // A sampled request after it: its spans end later, so once they are in, the first's would be.
    const sampled = parent();
    const next = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...headers, traceparent: sampled.traceparent },
      body: body(),
    });
    expect(next.status).toBe(200);
    await traceOf(sampled.traceId, 1);
    expect(receiver.spans.filter((s) => s.traceId === unsampled.traceId)).toEqual([]);
  });

  it('REST: a cache hit is an event, and no try', async () => {
    const body = JSON.stringify({
      model: 'smart',
      messages: [{ role: 'user', content: secretPrompt() }],
    });
    const headers = { authorization: `Bearer ${appKey}`, 'content-type': 'application/json' };
    const first = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body });
    expect(first.status).toBe(200);
    const { traceId, traceparent } = parent();
    const again = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...headers, traceparent },
      body,
    });
    expect(again.headers.get('x-conduit-cache')).toBe('HIT');
    // The server span ends last: once it is in, its tries would be too.
    const { server, tries } = await traceOf(traceId, 0);
    expect(tries).toEqual([]);
    expect(server.events).toContainEqual({
      name: 'conduit.cache.lookup',
      attributes: { 'conduit.cache.kind': 'exact', 'conduit.cache.result': 'hit' },
    });
  });

  it('GraphQL over HTTP: the span is named after the operation', async () => {
    const { traceId, spanId, traceparent } = parent();
    const prompt = secretPrompt();
    const { status, body } = await gql(
      gw.graphqlUrl,
      `mutation Ask($input: CompletionInput!) { complete(input: $input) { id content } }`,
      { input: { model: 'smart', messages: [{ role: 'USER', content: prompt }] } },
      { authorization: `Bearer ${appKey}`, traceparent },
    );
    expect(status).toBe(200);
    expect(body.data.complete.content).toBe(prompt);
    const { spans, server, tries } = await traceOf(traceId, 1);
    expect(server).toMatchObject({
      name: 'mutation Ask',
      parentSpanId: spanId,
      attributes: {
        'graphql.operation.type': 'mutation',
        'graphql.operation.name': 'Ask',
        'http.route': '/graphql',
        'conduit.request_id': body.data.complete.id,
      },
    });
    expect(tries).toHaveLength(1);
    expect(tries[0]!.attributes).toMatchObject({
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 11,
    });
    expect(JSON.stringify(spans)).not.toContain(prompt);
  });

  it('GraphQL over WebSocket: a subscription continues connectionParams.traceparent', async () => {
    const { traceId, spanId, traceparent } = parent();
    const client = createClient({
      url: gw.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${appKey}`, traceparent },
      retryAttempts: 0,
    });
    onDispose(() => client.dispose());
    const deltas: string[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe<{ completionStream: { delta: string } }>(
        {
          query: `subscription Stream($input: CompletionInput!) { completionStream(input: $input) { delta done } }`,
          variables: {
            input: { model: 'smart', messages: [{ role: 'USER', content: 'one two three' }] },
          },
        },
        {
          next: (result) => void deltas.push(result.data!.completionStream.delta),
          error: reject,
          complete: resolve,
        },
      );
    });
    expect(deltas.join('')).toContain('three');
    const { server, tries } = await traceOf(traceId, 1);
    expect(server).toMatchObject({
      name: 'subscription Stream',
      parentSpanId: spanId,
      attributes: {
        'graphql.operation.type': 'subscription',
        'graphql.operation.name': 'Stream',
        'network.protocol.name': 'websocket',
      },
    });
    expect(tries).toHaveLength(1);
    // A stream's usage and finish reason come at its end: on the try that answered.
    expect(tries[0]!.attributes).toMatchObject({
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.usage.output_tokens': 3,
      'gen_ai.response.finish_reasons': ['stop'],
    });

    // An operation's own extensions.traceparent wins over the connection's.
    const own = parent();
    const result = await new Promise<unknown>((resolve, reject) => {
      client.subscribe(
        {
          query: `mutation Ask($input: CompletionInput!) { complete(input: $input) { content } }`,
          variables: {
            input: { model: 'smart', messages: [{ role: 'USER', content: secretPrompt() }] },
          },
          extensions: { traceparent: own.traceparent },
        },
        { next: resolve, error: reject, complete: () => {} },
      );
    });
    expect(result).toMatchObject({ data: { complete: { content: expect.any(String) } } });
    const mutation = await traceOf(own.traceId, 1);
    expect(mutation.server).toMatchObject({ name: 'mutation Ask', parentSpanId: own.spanId });
  });
});

describe('content capture', () => {
  it('puts the prompt and the answer on the try only when telemetry.captureContent is on', async () => {
    const gw = await conduitWith({ otlpEndpoint: receiver.url, captureContent: true });
    const { traceId, traceparent } = parent();
    const prompt = secretPrompt();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${appKey}`,
        'content-type': 'application/json',
        traceparent,
      },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: prompt }] }),
    });
    expect(response.status).toBe(200);
    const { tries } = await traceOf(traceId, 1);
    const attributes = tries[0]!.attributes;
    expect(JSON.parse(attributes['gen_ai.input.messages'] as string)).toEqual([
      { role: 'user', parts: [{ type: 'text', content: prompt }] },
    ]);
    expect(JSON.parse(attributes['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: prompt }], finish_reason: 'stop' },
    ]);
  });
});

describe('protocol', () => {
  it.each([
    ['default', 'application/x-protobuf'],
    ['http/json', 'application/json'],
  ] as const)('exports with protocol %s as %s, the same spans', async (protocol, contentType) => {
    const own = await startReceiver();
    onDispose(() => own.close());
    const gw = await conduitWith({ otlpEndpoint: own.url }, protocol);
    const { traceId, traceparent } = parent();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${appKey}`,
        'content-type': 'application/json',
        traceparent,
      },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(200);
    await response.text();
    const spans = await own.trace(traceId, (found) => found.length >= 2);
    expect(own.posts[0]).toMatchObject({ path: '/v1/traces', contentType });
    // OTLP protobuf carries a trace id as its 16 raw bytes, JSON as hex text.
    const id = protocol === 'default' ? Buffer.from(traceId, 'hex') : traceId;
    expect(own.posts[0]!.body.includes(id)).toBe(true);
    expect(spans.map((s) => s.kind).sort()).toEqual([SERVER, CLIENT]);
    expect(spans.find((s) => s.kind === CLIENT)!.attributes).toMatchObject({
      'gen_ai.system': 'openai',
      'gen_ai.usage.output_tokens': expect.any(Number),
    });
  });
});

describe('off, and shutdown', () => {
  it('off by default: no trace header', async () => {
    const gw = await conduitWith({});
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${appKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.has('x-conduit-trace-id')).toBe(false);
  });

  it('stop() exports the spans still waiting for their batch', async () => {
    // The SDK's own delay (5 s): only the shutdown can have sent them by the time stop resolves.
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    const gw = await conduitWith({ otlpEndpoint: receiver.url });
    process.env.OTEL_BSP_SCHEDULE_DELAY = '10';
    const { traceId, traceparent } = parent();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${appKey}`,
        'content-type': 'application/json',
        traceparent,
      },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(200);
    await response.text();
    await gw.stop();
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    expect(spans.map((s) => s.kind).sort()).toEqual([SERVER, CLIENT]);
    expect(receiver.posts.every((p) => p.path === '/v1/traces')).toBe(true);
  });

  it('says so in the log when the collector cannot be reached', async () => {
    const closed = await startReceiver();
    await closed.close();
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    const gw = await conduitWith({
      otlpEndpoint: closed.url,
      headers: { authorization: 'Bearer otlp-secret-token' },
    });
    process.env.OTEL_BSP_SCHEDULE_DELAY = '10';
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${appKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await response.text();
    await gw.stop();
    const warned = gw.logs.filter(
      (l) =>
        l.includes('traces: an export failed') || l.includes('exporting the last spans failed'),
    );
    expect(warned.length).toBeGreaterThan(0);
    expect(gw.logs.join('')).not.toContain('otlp-secret-token');
  });
});
