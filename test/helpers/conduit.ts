/**
 * Starts a real Conduit on port 0 with an inline config; its log lines are captured so tests
 * can read them (and check that no secret is ever printed).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { logHooks, redactPaths } from '../../src/log.js';
import { createConduit, type Conduit } from '../../src/server.js';
import { onDispose } from './dispose.js';

export interface TestConduit {
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  conduit: Conduit;
  /** Every log line so far, as written. */
  logs: string[];
  stop(): Promise<void>;
}

export async function startConduit(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined> = {},
): Promise<TestConduit> {
  const config = parseConfig({ database: { url: 'sqlite::memory:' }, ...raw }, env);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = pino(
    { level: 'debug', redact: { paths: redactPaths, censor: '[redacted]' }, hooks: logHooks },
    sink,
  );
  const conduit = await createConduit(config, { logger });
  const url = await conduit.start(0, '127.0.0.1');
  const stop = () => conduit.stop();
  onDispose(stop);
  return {
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `${url.replace('http', 'ws')}/graphql`,
    conduit,
    logs,
    stop,
  };
}

/** POSTs a GraphQL operation; returns status and parsed body. */
export async function gql(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { data?: any; errors?: any[] } }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    body: (await response.json()) as { data?: any; errors?: any[] },
  };
}
