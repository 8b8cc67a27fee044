/**
 * The process's tracer: OpenTelemetry's SDK (a tracer provider, a BatchSpanProcessor and the
 * OTLP/HTTP exporter, protobuf or JSON, from the packages the Node SDK is made of; `NodeSDK` itself would register
 * a global context manager and instrumentations), made only when tracing is on (`telemetry.otlpEndpoint`, or the standard
 * `OTEL_EXPORTER_OTLP_*` variables). Off, nothing here is loaded: the SDK is imported on demand,
 * and the edges check one field (`Tracing | undefined`) per request.
 *
 * Nothing is registered globally: no context manager (AsyncLocalStorage costs on every await),
 * no global tracer provider, no auto-instrumentation. Spans are started with an explicit parent
 * context and travel with the request (`spans.ts`).
 */
import type { Config } from '../config/schema.js';
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
  const [tracing, resources, core, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  // Headers: the config's, else the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS itself.
  const exporter = new OTLPTraceExporter({
    url,
    ...(config.headers !== undefined && { headers: config.headers }),
  });
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
  const sampler = new tracing.ParentBasedSampler({
    root:
      config.sampleRatio >= 1
        ? new tracing.AlwaysOnSampler()
        : new tracing.TraceIdRatioBasedSampler(config.sampleRatio),
  });
  // The batch's size and delay: the SDK's defaults, or OTEL_BSP_* when set.
  const processor = new tracing.BatchSpanProcessor(exporter);
  const provider = new tracing.BasicTracerProvider({
    resource,
    sampler,
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('conduit');
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
