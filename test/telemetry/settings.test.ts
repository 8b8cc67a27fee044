/**
 * When tracing is on (the config's endpoint, or the standard OTEL_* variables), what a bad
 * setting is told, and which `traceparent` values are continued (W3C Trace Context).
 */
import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { secretsOf } from '../../src/redact.js';
import { parentContext } from '../../src/telemetry/w3c.js';
import { tracesEndpoint, tracesProtocol } from '../../src/telemetry/tracing.js';

const telemetryOf = (telemetry: Record<string, unknown> = {}) =>
  parseConfig(
    { database: { url: 'sqlite::memory:' }, providers: { echo: { type: 'echo' } }, telemetry },
    {},
  ).telemetry;

describe('tracesEndpoint', () => {
  it('is off by default', () => {
    expect(tracesEndpoint(telemetryOf(), {})).toBeUndefined();
  });

  it('takes telemetry.otlpEndpoint first, then the OTEL_EXPORTER_OTLP_* variables', () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/v1/traces',
    };
    expect(tracesEndpoint(telemetryOf({ otlpEndpoint: 'http://jaeger:4318/' }), env)).toBe(
      'http://jaeger:4318/v1/traces',
    );
    expect(tracesEndpoint(telemetryOf(), env)).toBe('http://traces:4318/v1/traces');
    expect(
      tracesEndpoint(telemetryOf(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }),
    ).toBe('http://collector:4318/v1/traces');
  });

  it('is off when OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none says so', () => {
    const on = telemetryOf({ otlpEndpoint: 'http://jaeger:4318' });
    expect(tracesEndpoint(on, { OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(tracesEndpoint(on, { OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
  });
});

describe('telemetry settings', () => {
  it('refuses a bad endpoint or sample ratio, naming the setting', () => {
    expect(() => telemetryOf({ otlpEndpoint: 'jaeger:4318' })).toThrow(/telemetry\.otlpEndpoint/);
    expect(() => telemetryOf({ sampleRatio: 2 })).toThrow(/telemetry\.sampleRatio/);
    expect(() => telemetryOf({ captureContents: true })).toThrow(/telemetry\.captureContents/);
  });

  it('counts the export headers and a password in the endpoint as secrets', () => {
    const config = parseConfig(
      {
        database: { url: 'sqlite::memory:' },
        providers: { echo: { type: 'echo' } },
        telemetry: {
          otlpEndpoint: 'https://user:otlp-pass-123@collector.example:4318',
          headers: { 'x-honeycomb-team': '${HONEYCOMB_KEY}' },
        },
      },
      { HONEYCOMB_KEY: 'hc-key-from-env' },
    );
    expect(secretsOf(config)).toEqual(expect.arrayContaining(['hc-key-from-env', 'otlp-pass-123']));
  });

  it('keeps content out of spans by default', () => {
    expect(telemetryOf()).toEqual({ sampleRatio: 1, captureContent: false });
  });
});

describe('parentContext', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const spanId = '00f067aa0ba902b7';
  const spanOf = (traceparent: unknown, tracestate?: unknown) =>
    trace.getSpanContext(parentContext(traceparent, tracestate));

  it('continues a valid traceparent, its sampled flag and tracestate', () => {
    expect(spanOf(`00-${traceId}-${spanId}-01`, 'vendor=value')).toMatchObject({
      traceId,
      spanId,
      traceFlags: 1,
      isRemote: true,
    });
    expect(spanOf(`00-${traceId}-${spanId}-01`, 'vendor=value')?.traceState?.get('vendor')).toBe(
      'value',
    );
    expect(spanOf(`00-${traceId}-${spanId}-00`)?.traceFlags).toBe(0);
    // A later version may add fields after the flags.
    expect(spanOf(`01-${traceId}-${spanId}-01-more`)?.traceId).toBe(traceId);
  });

  it.each([
    ['absent', undefined],
    ['not a string', 42],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${spanId}-01`],
    ['all-zero span id', `00-${traceId}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${traceId}-${spanId}-01`],
    ['version 00 with more fields', `00-${traceId}-${spanId}-01-more`],
    ['upper case', `00-${traceId.toUpperCase()}-${spanId}-01`],
    ['short', `00-${traceId.slice(1)}-${spanId}-01`],
  ])('starts a new trace when it is %s', (_why, traceparent) => {
    expect(spanOf(traceparent)).toBeUndefined();
  });
});

describe('tracesProtocol', () => {
  it('is http/protobuf by default, else the config, else the OTEL_* variables', () => {
    expect(tracesProtocol(telemetryOf(), {})).toBe('http/protobuf');
    expect(tracesProtocol(telemetryOf(), { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe(
      'http/json',
    );
    expect(
      tracesProtocol(telemetryOf(), {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }),
    ).toBe('http/protobuf');
    expect(
      tracesProtocol(telemetryOf({ protocol: 'http/json' }), {
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }),
    ).toBe('http/json');
  });

  it('refuses grpc, naming the variable, and a bad telemetry.protocol', () => {
    expect(() => tracesProtocol(telemetryOf(), { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL=grpc/,
    );
    expect(() => telemetryOf({ protocol: 'grpc' })).toThrow(/telemetry\.protocol/);
  });
});
