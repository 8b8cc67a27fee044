/** A front end's view: urql's own client, over HTTP and over graphql-ws. */
import { Client, cacheExchange, fetchExchange, gql as tag, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const COMPLETE = tag`
  mutation ($input: CompletionInput!) {
    complete(input: $input) { id content finishReason usage { totalTokens } }
  }
`;
const STREAM = tag`
  subscription ($input: CompletionInput!) {
    completionStream(input: $input) { id delta done }
  }
`;

describe('urql against Conduit', () => {
  let gw: TestConduit;
  let client: Client;
  const key = 'ck-urql-client-key';

  beforeAll(async () => {
    gw = await startConduit(
      {
        providers: { echo: { type: 'echo' } },
        clients: [{ id: 'app', key: '${APP_KEY}', models: ['echo/*'] }],
      },
      { APP_KEY: key },
    );
    const ws = createWsClient({
      url: gw.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
    });
    onDispose(() => ws.dispose());
    client = new Client({
      url: gw.graphqlUrl,
      fetchOptions: { headers: { authorization: `Bearer ${key}` } },
      exchanges: [
        cacheExchange,
        fetchExchange,
        subscriptionExchange({
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({
              unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink),
            }),
          }),
        }),
      ],
    });
  });

  it('runs complete and reads the answer', async () => {
    const result = await client.mutation(COMPLETE, {
      input: { model: 'echo/echo', messages: [{ role: 'USER', content: 'from urql' }] },
    });
    expect(result.error).toBeUndefined();
    expect(result.data.complete).toMatchObject({ content: 'from urql', finishReason: 'STOP' });
  });

  it('reads error codes from extensions', async () => {
    const forbidden = await client.mutation(COMPLETE, {
      input: { model: 'other/x', messages: [{ role: 'USER', content: 'x' }] },
    });
    expect(forbidden.error?.graphQLErrors[0]?.extensions.code).toBe('BAD_USER_INPUT');
    const empty = await client.mutation(COMPLETE, { input: { model: 'echo/echo', messages: [] } });
    expect(empty.error?.graphQLErrors[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'messages',
    });
  });

  it('subscribes to completionStream over graphql-ws', async () => {
    const deltas: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const { unsubscribe } = client
        .subscription(STREAM, {
          input: { model: 'echo/echo', messages: [{ role: 'USER', content: 'one two three' }] },
        })
        .subscribe((result) => {
          if (result.error) return reject(result.error);
          deltas.push(result.data.completionStream.delta);
          if (result.data.completionStream.done) {
            unsubscribe();
            resolve();
          }
        });
    });
    expect(deltas.join('')).toBe('one two three');
  });
});
