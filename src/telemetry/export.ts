/**
 * The span processor of the OTLP/protobuf export: each sampled span is encoded as it ends
 * (`otlp-protobuf.ts`) into the bytes of the batch being filled, and a batch goes out through the
 * SDK's OTLP/HTTP export delegate (its transport, headers, timeout, retries and limit on exports
 * in flight) when it holds `maxExportBatchSize` spans, or `scheduledDelayMillis` after its first.
 *
 * It stands where the SDK's BatchSpanProcessor would, with its settings and their variables
 * (`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_MAX_QUEUE_SIZE`), but
 * keeps bytes instead of spans: the BatchSpanProcessor holds every span of a batch until it is
 * serialized, long enough at a few thousand requests a second for the garbage collector to copy
 * them out of the young generation, which cost Conduit more than making them. A batch is handed
 * over as soon as it is full (the delegate bounds the exports in flight, and refuses one beyond:
 * those spans are lost and the failure reported, as the BatchSpanProcessor drops a full queue).
 */
import { TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, getNumberFromEnv, globalErrorHandler } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ProtoWriter, writeSpan } from './otlp-protobuf.js';

export interface BatchSettings {
  /** Spans a batch holds before it is sent. */
  maxExportBatchSize: number;
  /** How long the first span of a batch waits, at most, for the rest. */
  scheduledDelayMillis: number;
}

/** The BatchSpanProcessor's defaults, or the `OTEL_BSP_*` variables where they are set. */
export function batchSettingsFromEnv(): BatchSettings {
  const batch = getNumberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512;
  const queue = getNumberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048;
  return {
    // As in the SDK: a batch is never larger than the queue.
    maxExportBatchSize: Math.max(1, Math.min(batch, queue)),
    scheduledDelayMillis: getNumberFromEnv('OTEL_BSP_SCHEDULE_DELAY') ?? 5000,
  };
}

/** About what a batch of Conduit's spans takes (~450 bytes a span), so it seldom grows. */
const bytesPerSpan = 640;

export class EncodingSpanProcessor implements SpanProcessor {
  #writer: ProtoWriter;
  #spans = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #sending = new Set<Promise<void>>();
  #stopped = false;

  constructor(
    private readonly delegate: IOtlpExportDelegate<Uint8Array>,
    private readonly settings: BatchSettings,
  ) {
    this.#writer = this.#newWriter();
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    const before = this.#writer.pos;
    try {
      writeSpan(this.#writer, span);
    } catch (error) {
      // Not a half-written span in the batch: this one is lost, and said.
      this.#writer.pos = before;
      globalErrorHandler(error as Error);
      return;
    }
    if (++this.#spans >= this.settings.maxExportBatchSize) this.#send();
    else this.#timer ??= setTimeout(() => this.#send(), this.settings.scheduledDelayMillis).unref();
  }

  /** Sends what is pending and waits for every export in flight. */
  async forceFlush(): Promise<void> {
    this.#send();
    await Promise.all(this.#sending);
  }

  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    await this.forceFlush();
    this.#stopped = true;
    await this.delegate.shutdown();
  }

  #newWriter(): ProtoWriter {
    return new ProtoWriter(this.settings.maxExportBatchSize * bytesPerSpan);
  }

  /** Hands the batch's bytes to the delegate and starts the next batch. */
  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#spans === 0) return;
    const spans = this.#writer.buf.subarray(0, this.#writer.pos);
    this.#writer = this.#newWriter();
    this.#spans = 0;
    const sent = new Promise<void>((resolve) => {
      this.delegate.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS)
          globalErrorHandler(result.error ?? new Error('span export failed'));
        resolve();
      });
    });
    this.#sending.add(sent);
    void sent.then(() => this.#sending.delete(sent));
  }
}
