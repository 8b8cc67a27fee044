/** pino, with every place a secret could sit redacted. */
import { pino, type DestinationStream, type Logger } from 'pino';

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
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
