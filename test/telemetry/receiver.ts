/**
 * An OTLP/HTTP trace receiver for tests: a real node:http server taking what the exporter posts
 * to `/v1/traces` (OTLP JSON or protobuf, gzipped or not), answering 200 as a collector does,
 * and keeping every span with its attributes decoded (protobuf by a reader of the wire format
 * written here from the OTLP .proto files, independent of the encoder under test), and every
 * raw body (`posts`).
 * Tests wait on arrivals, never on time.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

type AnyValue = {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value: AnyValue };

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP's span kind: 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code?: number; message?: string };
  resource: Record<string, unknown>;
}

export interface Receiver {
  /** The base URL, as `telemetry.otlpEndpoint` takes it. */
  url: string;
  spans: ReceivedSpan[];
  /** Every request's path, content type and (unzipped) body, as received. */
  posts: { path: string; contentType: string | undefined; body: Buffer }[];
  /** Resolves with the first post `match` takes, once it is in. */
  post(match: (post: Receiver['posts'][number]) => boolean): Promise<Receiver['posts'][number]>;
  /** Resolves with the spans of `traceId` once `enough` says they are all in. */
  trace(traceId: string, enough: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

const valueOf = (value: AnyValue): unknown => {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
};
const attributesOf = (list: KeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

export async function startReceiver(): Promise<Receiver> {
  const spans: ReceivedSpan[] = [];
  const posts: Receiver['posts'] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      posts.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
      const json = req.headers['content-type']?.startsWith('application/json') === true;
      const payload = (json ? JSON.parse(body.toString('utf8')) : decodeRequest(body)) as {
        resourceSpans?: {
          resource?: { attributes?: KeyValue[] };
          scopeSpans?: { spans?: Record<string, any>[] }[];
        }[];
      };
      for (const rs of payload.resourceSpans ?? []) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
              events: (span.events ?? []).map((e: { name: string; attributes?: KeyValue[] }) => ({
                name: e.name,
                attributes: attributesOf(e.attributes),
              })),
              status: span.status ?? {},
              resource,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      for (const wake of waiters) wake();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    posts,
    post(match) {
      return new Promise((resolve) => {
        const check = () => {
          const found = posts.find(match);
          if (found === undefined) return false;
          waiters.delete(wake);
          resolve(found);
          return true;
        };
        const wake = () => void check();
        if (!check()) waiters.add(wake);
      });
    },
    trace(traceId, enough) {
      const mine = () => spans.filter((s) => s.traceId === traceId);
      return new Promise((resolve) => {
        const check = () => {
          const found = mine();
          if (!enough(found)) return false;
          waiters.delete(wake);
          resolve(found);
          return true;
        };
        const wake = () => void check();
        if (!check()) waiters.add(wake);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Protobuf's wire format, read: each field of a message as [number, value], a varint as a
 * bigint, a fixed64 as its 8 bytes, a length-delimited field as its bytes.
 */
function fieldsOf(bytes: Buffer): [number, bigint | Buffer][] {
  const fields: [number, bigint | Buffer][] = [];
  let pos = 0;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[pos++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (pos < bytes.length) {
    const key = Number(varint());
    const wireType = key & 7;
    if (wireType === 0) fields.push([key >> 3, varint()]);
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      fields.push([key >> 3, bytes.subarray(pos, pos + size)]);
      pos += size;
    } else if (wireType === 2) {
      const length = Number(varint());
      fields.push([key >> 3, bytes.subarray(pos, pos + length)]);
      pos += length;
    } else throw new Error(`wire type ${wireType} in an OTLP trace export`);
  }
  return fields;
}

const all = (bytes: Buffer, field: number) =>
  fieldsOf(bytes)
    .filter(([n]) => n === field)
    .map(([, v]) => v as Buffer);
const one = (bytes: Buffer, field: number) => fieldsOf(bytes).find(([n]) => n === field)?.[1];

function anyValueOf(bytes: Buffer): AnyValue {
  const [[field, value]] = fieldsOf(bytes) as [[number, bigint | Buffer]];
  switch (field) {
    case 1:
      return { stringValue: (value as Buffer).toString('utf8') };
    case 2:
      return { boolValue: value === 1n };
    case 3:
      return { intValue: BigInt.asIntN(64, value as bigint).toString() };
    case 4:
      return { doubleValue: (value as Buffer).readDoubleLE(0) };
    case 5:
      return { arrayValue: { values: all(value as Buffer, 1).map(anyValueOf) } };
    default:
      throw new Error(`AnyValue field ${field}`);
  }
}

const keyValuesOf = (list: Buffer[]): KeyValue[] =>
  list.map((kv) => ({
    key: (one(kv, 1) as Buffer).toString('utf8'),
    value: anyValueOf(one(kv, 2) as Buffer),
  }));

/** An `ExportTraceServiceRequest` as the OTLP JSON encoding would carry it (the fields read here). */
function decodeRequest(body: Buffer) {
  return {
    resourceSpans: all(body, 1).map((rs) => ({
      resource: { attributes: keyValuesOf(all(one(rs, 1) as Buffer, 1)) },
      scopeSpans: all(rs, 2).map((ss) => ({
        spans: all(ss, 2).map((span) => {
          const status = one(span, 15) as Buffer | undefined;
          const hex = (field: number) => (one(span, field) as Buffer | undefined)?.toString('hex');
          return {
            traceId: hex(1),
            spanId: hex(2),
            parentSpanId: hex(4),
            name: (one(span, 5) as Buffer).toString('utf8'),
            kind: Number(one(span, 6) ?? 0n),
            attributes: keyValuesOf(all(span, 9)),
            events: all(span, 11).map((event) => ({
              name: (one(event, 2) as Buffer).toString('utf8'),
              attributes: keyValuesOf(all(event, 3)),
            })),
            status: status && {
              code: Number(one(status, 3) ?? 0n),
              message: (one(status, 2) as Buffer | undefined)?.toString('utf8'),
            },
          };
        }),
      })),
    })),
  };
}
