/** pino, with every place a secret could sit redacted, writing to stdout in batches. */
import { pino, type DestinationStream, type Logger } from 'pino';
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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    { level, base: { service: 'conduit' }, redact: { paths: redactPaths, censor: '[redacted]' } },
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

/**
 * Logs the one line per request. Its fields are a UsageRecord's (ids, model, tokens, cost,
 * latency, bodies only when asked), never a key: so it goes through a child without redaction,
 * whose wildcard paths would otherwise run over every field of every line. Serializers leave out
 * `time` (pino writes its own) and, unless `bodies`, `prompt` and `response`, without copying
 * the record.
 */
export function createRequestLog(log: Logger, bodies: boolean): (record: UsageRecord) => void {
  const omit = () => undefined;
  const serializers: Record<string, typeof omit> = bodies
    ? { time: omit }
    : { time: omit, prompt: omit, response: omit };
  const requests = log.child({}, { redact: { paths: [] }, serializers });
  return (record) => requests.info(record, 'request');
}
