/** GraphQL clients as front ends use them: graphql-ws over a real socket, drained in afterAll. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { onDispose } from './dispose.js';

export function wsClient(url: string, authorization?: string): Client {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: authorization === undefined ? {} : { authorization },
  });
  onDispose(() => client.dispose());
  return client;
}

export async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterator) out.push(value);
  return out;
}
