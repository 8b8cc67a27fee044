/**
 * pino, with every place a secret could sit redacted, and credential-shaped strings masked in
 * every line (an error's message may quote an upstream), writing to stdout in batches.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { maskSecrets } from './redact.js';
import type { Outcome } from './gateway/types.js';
import type { UsageRecord } from './usage/store.js';

export type { Logger };

export const redactPaths = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-goog-api-key"]',
  'key',
  'keys',
  'apiKey',
  '*.key',
  '*.keys',
  '*.apiKey',
  'connectionParams.authorization',
];

/**
 * Masks each line as written: the whole JSON line, since a secret may sit in any field (an
 * error's message, its cause's, a body). The masks never take a `"` or `\`, so the line stays
 * JSON. The per-request line is written by hand (createRequestLog) and holds no upstream text.
 */
export const logHooks: LoggerOptions['hooks'] = { streamWrite: maskSecrets };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'conduit' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      hooks: logHooks,
    },
    destination ?? createDestination(),
  );
}

export interface BatchedDestination extends DestinationStream {
  /** Writes what is gathered; `callback` runs once every line so far is out (or writing failed). */
  flush(callback?: (error?: Error) => void): void;
  /** Writes what is gathered, blocking; for the process's last moments. */
  flushSync(): void;
}

/**
 * A file descriptor (stdout by default) or file written in batches rather than a write(2) per
 * line. A line after a quiet spell goes out at once (the startup line, a refused reload); lines
 * that follow within `flushMs` gather until `batchLength` characters or the next tick. The writes
 * themselves are asynchronous, so a slow reader of stdout never blocks the event loop; whatever
 * is left goes out when the process exits (Node finishes a write in flight before it ends).
 */
export function createDestination(
  options: { dest?: number | string; batchLength?: number; flushMs?: number } = {},
): BatchedDestination {
  const { dest = 1, batchLength = 64 * 1024, flushMs = 100 } = options;
  const sonic = pino.destination({ dest, sync: false });
  let gathered = '';
  let timer: NodeJS.Timeout | undefined;
  const writeGathered = () => {
    if (gathered === '') return;
    sonic.write(gathered);
    gathered = '';
  };
  const tick = () => {
    if (gathered === '') {
      timer = undefined;
      return;
    }
    writeGathered();
    timer!.refresh();
  };
  const destination: BatchedDestination = {
    write(line: string) {
      if (timer) {
        gathered += line;
        if (gathered.length >= batchLength) writeGathered();
        return;
      }
      sonic.write(line);
      timer = setTimeout(tick, flushMs).unref();
    },
    flush(callback) {
      writeGathered();
      if (!callback) return;
      // SonicBoom emits 'drain' once nothing is left to write; the empty write makes sure one comes.
      const done = (error?: Error) => {
        sonic.off('drain', done);
        sonic.off('error', done);
        callback(error);
      };
      sonic.once('drain', done);
      sonic.once('error', done);
      sonic.write('');
    },
    flushSync() {
      writeGathered();
      sonic.flushSync();
    },
  };
  flushAtExit(destination);
  return destination;
}

/** Destinations to write out when the process exits, held weakly: one 'exit' listener in all. */
const unflushed = new Set<WeakRef<BatchedDestination>>();
function flushAtExit(destination: BatchedDestination): void {
  if (unflushed.size === 0) {
    process.once('exit', () => {
      for (const ref of unflushed) ref.deref()?.flushSync();
    });
  }
  unflushed.add(new WeakRef(destination));
}

/** A JSON value for a line written by hand: a string escaped as JSON, null, or a finite number. */
const str = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));
const num = (value: number | null): string =>
  value === null || !Number.isFinite(value) ? 'null' : String(value);

/**
 * Logs the one line per request, written by hand: the same line pino would write for
 * `log.info(record, 'request')` (level, time, the logger's bindings, the record's fields without
 * its `time`, msg), in about a fifth of the time (pino walks the record key by key through
 * megamorphic loads: ~5% of a REST request's CPU). Its fields are a UsageRecord's (ids, model,
 * tokens, cost, latency, bodies only when asked), never a key, so no redaction applies; and the
 * trace id when tracing is on.
 */
export function createRequestLog(
  log: Logger,
  bodies: boolean,
): (record: UsageRecord, outcome?: Pick<Outcome, 'traceId'>) => void {
  const stream = (log as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]!;
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  const head = `{"level":${log.levels.values.info},"time":`;
  return (record, outcome) => {
    if (!log.isLevelEnabled('info')) return;
    let line =
      `${head}${Date.now()}${bindings},"requestId":${str(record.requestId)}` +
      `,"clientId":${str(record.clientId)},"user":${str(record.user)}` +
      `,"alias":${str(record.alias)},"provider":${str(record.provider)}` +
      `,"model":${str(record.model)},"status":"${record.status}"` +
      `,"errorCode":${str(record.errorCode)},"promptTokens":${num(record.promptTokens)}` +
      `,"completionTokens":${num(record.completionTokens)}` +
      `,"cachedTokens":${num(record.cachedTokens)},"estimated":${record.estimated}` +
      `,"costUsd":${num(record.costUsd)},"savedUsd":${num(record.savedUsd)}` +
      `,"priced":${record.priced},"latencyMs":${num(record.latencyMs)}` +
      `,"ttftMs":${num(record.ttftMs)},"cacheHit":${record.cacheHit}` +
      `,"attempts":${num(record.attempts)},"stream":${record.stream},"route":"${record.route}"`;
    if (bodies) line += `,"prompt":${str(record.prompt)},"response":${str(record.response)}`;
    if (outcome?.traceId !== undefined) line += `,"traceId":"${outcome.traceId}"`;
    stream.write(`${line},"msg":"request"}\n`);
  };
}
