/**
 * OTLP/protobuf encoding of ended spans, one at a time, into a batch's buffer: the bytes of
 * `ExportTraceServiceRequest` exactly as the SDK's `ProtobufTraceSerializer` writes them (a test
 * holds the two byte for byte), without keeping the spans until the batch is sent. The SDK's
 * serializer walks a whole batch twice (sizes, then bytes) when it is exported, so every span of
 * a batch lives until then, long enough for the garbage collector to move it out of the young
 * generation; here a span is bytes as soon as it ends, and what repeats in every span (the
 * attribute keys) is encoded once.
 *
 * @see https://github.com/open-telemetry/opentelemetry-proto/blob/main/opentelemetry/proto/trace/v1/trace.proto
 */
import type { Attributes, AttributeValue, HrTime, Link } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

/** Wire types. */
const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;
const FIXED32 = 5;

/** Span flags: the W3C trace flags, and whether the parent's context was remote (OTLP 1.1). */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** Strings from this length on are written by the UTF-8 encoder rather than char by char. */
const nativeFrom = 48;

/** The value of each hex digit by its char code (upper case too). */
const nibble = new Uint8Array(128);
for (let i = 0; i < 16; i++) {
  nibble['0123456789abcdef'.charCodeAt(i)] = i;
  nibble['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** A growable byte buffer with protobuf's primitives. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Room for `size` more bytes. */
  room(size: number): void {
    if (this.pos + size <= this.buf.length) return;
    let length = this.buf.length * 2;
    while (length < this.pos + size) length *= 2;
    const grown = Buffer.allocUnsafe(length);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  tag(field: number, wireType: number): void {
    const key = (field << 3) | wireType;
    if (key < 0x80 && this.pos < this.buf.length) this.buf[this.pos++] = key;
    else this.varint(key);
  }

  /** A non-negative integer or a negative one (int64: ten bytes, two's complement). */
  varint(value: number): void {
    this.room(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 0x7f;
  }

  fixed32(value: number): void {
    this.room(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** Nanoseconds since the epoch of an `HrTime` ([seconds, nanoseconds]), exactly. */
  time(time: HrTime): void {
    this.room(8);
    // seconds × 1e9 + nanos overflows a double's 53 bits: split the seconds at bit 16.
    const [seconds, nanos] = time;
    const lowPart = (seconds & 0xffff) * 1e9;
    const highPart = ((seconds / 0x10000) >>> 0) * 1e9;
    const low = (lowPart >>> 0) + (((highPart & 0xffff) * 0x10000) >>> 0) + nanos;
    const high =
      (Math.floor(lowPart / 0x100000000) +
        ((highPart / 0x10000) >>> 0) +
        Math.floor(low / 0x100000000)) >>>
      0;
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.room(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  string(value: string): void {
    const length = value.length;
    if (length < nativeFrom) {
      // Copied char by char while they are ASCII (a byte each), else written again as UTF-8.
      this.room(length + 1);
      const start = this.pos;
      const buf = this.buf;
      let pos = start + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        buf[pos++] = code;
      }
      if (i === length) {
        buf[start] = length;
        this.pos = pos;
        return;
      }
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.room(bytes + 5);
    this.varint(bytes);
    this.pos += this.buf.write(value, this.pos, bytes, 'utf8');
  }

  /** The 16 or 8 bytes of a hex trace or span id (lower-case, as the API keeps them). */
  id(hex: string): void {
    const length = hex.length >>> 1;
    this.room(1 + length);
    const buf = this.buf;
    buf[this.pos++] = length;
    for (let i = 0; i < hex.length; i += 2)
      buf[this.pos++] = (nibble[hex.charCodeAt(i)]! << 4) | nibble[hex.charCodeAt(i + 1)]!;
  }

  bytes(bytes: Uint8Array): void {
    this.room(bytes.length + 5);
    this.varint(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Opens a length-delimited field: one byte is kept for its length (most are short). */
  open(): number {
    this.room(1);
    return this.pos++;
  }

  /** Closes what `open` opened: its length written, the content moved when it takes more bytes. */
  close(at: number): void {
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buf[at] = length;
      return;
    }
    let size = 2;
    while (length >= 2 ** (7 * size)) size++;
    this.room(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = length;
    for (let i = 0; i < size - 1; i++) {
      this.buf[at + i] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at + size - 1] = v;
  }
}

/** `KeyValue.key` (field 1) of each attribute name seen, encoded once: a span's names repeat. */
const keyBytes = new Map<string, Buffer>();
const keyCacheLimit = 512;

function keyOf(key: string): Buffer {
  let bytes = keyBytes.get(key);
  if (bytes === undefined) {
    const scratch = new ProtoWriter(key.length * 3 + 8);
    scratch.tag(1, BYTES);
    scratch.string(key);
    bytes = Buffer.from(scratch.buf.subarray(0, scratch.pos));
    if (keyBytes.size < keyCacheLimit) keyBytes.set(key, bytes);
  }
  return bytes;
}

function writeAttributes(w: ProtoWriter, attributes: Attributes, field: number): void {
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    w.tag(field, BYTES);
    const kv = w.open();
    const name = keyOf(key);
    w.room(name.length);
    w.buf.set(name, w.pos);
    w.pos += name.length;
    w.tag(2, BYTES);
    const value = w.open();
    writeAnyValue(w, attributes[key]);
    w.close(value);
    w.close(kv);
  }
}

/** `AnyValue`, as the SDK writes it (an integer within int64 as `int_value`, else a double). */
function writeAnyValue(w: ProtoWriter, value: AttributeValue | unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, BYTES);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, VARINT);
      w.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
        w.tag(3, VARINT);
        w.varint(value);
      } else {
        w.tag(4, FIXED64);
        w.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    w.tag(7, BYTES);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, BYTES);
    const list = w.open();
    for (const item of value) {
      w.tag(1, BYTES);
      const at = w.open();
      writeAnyValue(w, item);
      w.close(at);
    }
    w.close(list);
  } else if (typeof value === 'object' && value !== null) {
    w.tag(6, BYTES);
    const list = w.open();
    const object = value as Record<string, unknown>;
    for (const key in object) {
      if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
      w.tag(1, BYTES);
      const kv = w.open();
      w.tag(1, BYTES);
      w.string(key);
      w.tag(2, BYTES);
      const at = w.open();
      writeAnyValue(w, object[key]);
      w.close(at);
      w.close(kv);
    }
    w.close(list);
  }
}

function writeEvent(w: ProtoWriter, event: TimedEvent): void {
  w.tag(11, BYTES);
  const at = w.open();
  w.tag(1, FIXED64);
  w.time(event.time);
  w.tag(2, BYTES);
  w.string(event.name);
  if (event.attributes) writeAttributes(w, event.attributes, 3);
  w.tag(4, VARINT);
  w.varint(event.droppedAttributesCount ?? 0);
  w.close(at);
}

function flagsOf(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
}

function writeLink(w: ProtoWriter, link: Link & { droppedAttributesCount?: number }): void {
  w.tag(13, BYTES);
  const at = w.open();
  w.tag(1, BYTES);
  w.id(link.context.traceId);
  w.tag(2, BYTES);
  w.id(link.context.spanId);
  const traceState = link.context.traceState?.serialize();
  if (traceState) {
    w.tag(3, BYTES);
    w.string(traceState);
  }
  if (link.attributes) writeAttributes(w, link.attributes, 4);
  w.tag(5, VARINT);
  w.varint(link.droppedAttributesCount ?? 0);
  w.tag(6, FIXED32);
  w.fixed32(flagsOf(link.context.traceFlags, link.context.isRemote));
  w.close(at);
}

/** One span as `ScopeSpans.spans` (field 2): tag, length and `Span`. */
export function writeSpan(w: ProtoWriter, span: ReadableSpan): void {
  w.tag(2, BYTES);
  const at = w.open();
  const context = span.spanContext();
  w.tag(1, BYTES);
  w.id(context.traceId);
  w.tag(2, BYTES);
  w.id(context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) {
    w.tag(3, BYTES);
    w.string(traceState);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, BYTES);
    w.id(parent.spanId);
  }
  w.tag(5, BYTES);
  w.string(span.name);
  // The API's SpanKind starts at INTERNAL = 0; OTLP's at UNSPECIFIED = 0.
  w.tag(6, VARINT);
  w.varint(span.kind + 1);
  w.tag(7, FIXED64);
  w.time(span.startTime);
  w.tag(8, FIXED64);
  w.time(span.endTime);
  writeAttributes(w, span.attributes, 9);
  w.tag(10, VARINT);
  w.varint(span.droppedAttributesCount);
  for (const event of span.events) writeEvent(w, event);
  w.tag(12, VARINT);
  w.varint(span.droppedEventsCount);
  for (const link of span.links) writeLink(w, link);
  w.tag(14, VARINT);
  w.varint(span.droppedLinksCount);
  w.tag(15, BYTES);
  const status = w.open();
  if (span.status.message) {
    w.tag(2, BYTES);
    w.string(span.status.message);
  }
  w.tag(3, VARINT);
  w.varint(span.status.code);
  w.close(status);
  w.tag(16, FIXED32);
  w.fixed32(flagsOf(context.traceFlags, parent?.isRemote));
  w.close(at);
}

/** The instrumentation scope every span of Conduit's tracer carries. */
export interface Scope {
  name: string;
  version?: string;
  schemaUrl?: string;
}

/**
 * The envelope of a batch: `ExportTraceServiceRequest` with one `ResourceSpans` holding one
 * `ScopeSpans`, whose spans are the `spans` bytes (`writeSpan`'s, one after another).
 */
export function encodeRequest(resource: Resource, scope: Scope, spans: Uint8Array): Uint8Array {
  const w = new ProtoWriter(spans.length + 1024);
  w.tag(1, BYTES);
  const resourceSpans = w.open();
  w.tag(1, BYTES);
  const resourceAt = w.open();
  writeAttributes(w, resource.attributes, 1);
  w.tag(2, VARINT);
  w.varint(0);
  w.close(resourceAt);
  w.tag(2, BYTES);
  const scopeSpans = w.open();
  w.tag(1, BYTES);
  const scopeAt = w.open();
  w.tag(1, BYTES);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, BYTES);
    w.string(scope.version);
  }
  w.close(scopeAt);
  w.room(spans.length);
  w.buf.set(spans, w.pos);
  w.pos += spans.length;
  if (scope.schemaUrl) {
    w.tag(3, BYTES);
    w.string(scope.schemaUrl);
  }
  w.close(scopeSpans);
  if (resource.schemaUrl) {
    w.tag(3, BYTES);
    w.string(resource.schemaUrl);
  }
  w.close(resourceSpans);
  return w.buf.subarray(0, w.pos);
}
