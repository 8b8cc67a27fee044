/**
 * An OTLP/HTTP trace receiver for tests: a real node:http server taking what the exporter posts
 * to `/v1/traces` (OTLP JSON, gzipped or not), answering 200 as a collector does, and keeping
 * every span with its attributes decoded. A protobuf export is kept as its raw body (`posts`).
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
      const payload = (json ? JSON.parse(body.toString('utf8')) : {}) as {
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
