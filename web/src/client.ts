/** The urql client of one session: queries over HTTP, subscriptions over graphql-ws. */
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';
import { graphqlUrl, websocketUrl, type Session } from './session';

export interface Connection {
  urql: Client;
  ws: WsClient;
}

export function connect(
  session: Session,
  onSocket: (state: 'connected' | 'closed', code?: number) => void,
): Connection {
  const ws = createWsClient({
    url: websocketUrl(),
    connectionParams: { authorization: session.authorization },
    // Keeps trying while the server is away (4401, a refused key, is final).
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 5000)));
    },
    on: {
      connected: () => onSocket('connected'),
      closed: (event) => onSocket('closed', (event as CloseEvent | undefined)?.code),
    },
  });
  const urql = new Client({
    url: graphqlUrl(),
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    fetchOptions: () => ({
      headers: {
        authorization: session.authorization,
        accept: 'application/graphql-response+json',
      },
    }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }),
          };
        },
      }),
    ],
  });
  return { urql, ws };
}
