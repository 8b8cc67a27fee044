/**
 * The process's tracer: OpenTelemetry's SDK (a tracer provider and the OTLP/HTTP export, from
 * the packages the Node SDK is made of; `NodeSDK` itself would register a global context manager
 * and instrumentations; protobuf spans are encoded as they end, `export.ts`, JSON ones batched by
 * the SDK's BatchSpanProcessor and exporter), made only when tracing is on (`telemetry.otlpEndpoint`, or the standard
 * `OTEL_EXPORTER_OTLP_*` variables). Off, nothing here is loaded: the SDK is imported on demand,
 * and the edges check one field (`Tracing | undefined`) per request.
 *
 * Nothing is registered globally: no context manager (AsyncLocalStorage costs on every await),
 * no global tracer provider, no auto-instrumentation. Spans are started with an explicit parent
 * context and travel with the request (`spans.ts`).
 */
import type { Config } from '../config/schema.js';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { BatchSettings } from './export.js';
import { RequestSpan, type RequestSpanStart } from './spans.js';
import { parentContext } from './w3c.js';

export type TelemetryConfig = Config['telemetry'];

export interface Tracing {
  /** A request's span: a child of `traceparent` when it is a valid one, else a new trace's root. */
  startRequest(start: RequestSpanStart, traceparent?: unknown, tracestate?: unknown): RequestSpan;
  /** Exports what is ended and not yet sent. */
  flush(): Promise<void>;
  /** Exports what is left, then stops exporting. */
  shutdown(): Promise<void>;
}

/** Where spans go, or undefined when tracing is off. */
export function tracesEndpoint(
  config: TelemetryConfig,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  if (config.otlpEndpoint) return `${config.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
  const own = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (own) return own;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return `${base.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/** The two OTLP/HTTP encodings; protobuf is OTLP's default and costs less CPU to write. */
export const otlpProtocols = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof otlpProtocols)[number];

/**
 * How spans are encoded: `telemetry.protocol`, else `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. A variable naming another (`grpc`) is
 * refused, naming the variable.
 */
export function tracesProtocol(
  config: TelemetryConfig,
  env: NodeJS.ProcessEnv = process.env,
): OtlpProtocol {
  if (config.protocol) return config.protocol;
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const value = env[name]?.trim();
    if (!value) continue;
    if ((otlpProtocols as readonly string[]).includes(value)) return value as OtlpProtocol;
    throw new Error(
      `${name}=${value} is not supported: Conduit exports over ${otlpProtocols.join(' or ')}`,
    );
  }
  return 'http/protobuf';
}

/**
 * Where ended spans go over OTLP/HTTP protobuf: encoded as they end (`export.ts`), sent by the
 * SDK's own OTLP/HTTP export delegate. Headers: the config's, else the delegate reads
 * OTEL_EXPORTER_OTLP_(TRACES_)HEADERS itself, as it does the timeout and compression. The batch
 * settings: the SDK's variables unless given.
 */
export async function protobufProcessor(
  exporter: { url: string; headers?: Record<string, string> },
  resource: Resource,
  settings?: BatchSettings,
): Promise<SpanProcessor> {
  const [
    { createOtlpHttpExportDelegate, convertLegacyHttpOptions },
    { ProtobufTraceSerializer },
    { EncodingSpanProcessor, batchSettingsFromEnv },
    { encodeRequest },
  ] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base/node-http'),
    import('@opentelemetry/otlp-transformer'),
    import('./export.js'),
    import('./otlp-protobuf.js'),
  ]);
  const delegate = createOtlpHttpExportDelegate(
    convertLegacyHttpOptions(exporter, 'TRACES', 'v1/traces', {
      'Content-Type': 'application/x-protobuf',
    }),
    {
      serializeRequest: (spans: Uint8Array) => encodeRequest(resource, scope, spans),
      deserializeResponse: (body: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(body),
    },
  );
  return new EncodingSpanProcessor(delegate, settings ?? batchSettingsFromEnv());
}

/** Conduit's tracer: the instrumentation scope of every span. */
const scope = { name: 'conduit' };

/** The tracer for `config`, or undefined when tracing is off. */
export async function createTracing(
  config: TelemetryConfig,
  options: {
    env?: NodeJS.ProcessEnv;
    /** An export failed (the collector is down, say): told at most once a minute. */
    onExportError?: (error: unknown) => void;
  } = {},
): Promise<Tracing | undefined> {
  const { env = process.env, onExportError } = options;
  const url = tracesEndpoint(config, env);
  if (url === undefined) return undefined;
  const protocol = tracesProtocol(config, env);
  const [tracing, resources, core, { parentBased }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('./sampler.js'),
  ]);
  // service.name: the config's, else OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES), else conduit.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': 'conduit' }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    .merge(
      config.serviceName === undefined
        ? null
        : resources.resourceFromAttributes({ 'service.name': config.serviceName }),
    );
  const sampler = parentBased(
    config.sampleRatio >= 1
      ? new tracing.AlwaysOnSampler()
      : new tracing.TraceIdRatioBasedSampler(config.sampleRatio),
  );
  const exporter = { url, ...(config.headers !== undefined && { headers: config.headers }) };
  const processor =
    protocol === 'http/json'
      ? new tracing.BatchSpanProcessor(
          new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(exporter),
        )
      : await protobufProcessor(exporter, resource);
  const provider = new tracing.BasicTracerProvider({
    resource,
    sampler,
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer(scope.name);
  // The SDK reports a failed export to its global handler (by default: nowhere, no diag logger).
  if (onExportError) {
    let toldAt = -Infinity;
    core.setGlobalErrorHandler((error) => {
      if (performance.now() - toldAt < 60_000) return;
      toldAt = performance.now();
      onExportError(error);
    });
  }
  return {
    startRequest(start, traceparent, tracestate) {
      const parent = parentContext(traceparent, tracestate);
      return new RequestSpan(tracer, start, parent, config.captureContent);
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
