import { beforeAll, describe, expect, it } from 'vitest';
import { negotiate } from '../../src/graphql/transport/negotiate.js';
import { createConduitYoga, type ConduitYoga } from '../../src/graphql/yoga.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const KEY = 'ck-negotiate-app';

/** Accept headers as clients send them, and some as nobody should. */
const ACCEPTS = [
  undefined,
  '',
  '*/*',
  'application/json',
  'application/graphql-response+json',
  'application/graphql-response+json, application/json;q=0.9',
  'application/json, application/graphql-response+json',
  'application/*',
  'text/html, */*',
  'text/html',
  'image/png',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=latin1, application/graphql-response+json',
  'APPLICATION/JSON',
  ' application/json ',
  'text/event-stream',
  'text/event-stream, application/json',
  'multipart/mixed',
];

describe('content negotiation (transport/negotiate.ts) against Yoga', () => {
  let gw: TestConduit;
  let yoga: ConduitYoga;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
    yoga = createConduitYoga(() => gw.conduit.services);
  });

  const init = (query: string, accept: string | undefined): RequestInit => ({
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${KEY}`,
      ...(accept !== undefined && { accept }),
    },
    body: JSON.stringify({ query }),
  });

  it('gives the status, content type and body Yoga gives, for every Accept header', async () => {
    for (const query of ['{ __typename }', '{ viewer { nope } }']) {
      for (const accept of ACCEPTS) {
        const fast = await fetch(gw.graphqlUrl, init(query, accept));
        const own = await yoga.fetch('http://localhost/graphql', init(query, accept), {});
        const answer = async (r: Response) => [
          r.status,
          r.headers.get('content-type'),
          await r.text(),
        ];
        expect([query, accept, ...(await answer(fast))]).toEqual([
          query,
          accept,
          ...(await answer(own)),
        ]);
      }
    }
  });

  it('picks the media type Yoga’s result processors pick', () => {
    expect(negotiate(undefined)).toBe('application/json');
    expect(negotiate('*/*')).toBe('application/json');
    expect(negotiate('application/graphql-response+json, application/json;q=0.9')).toBe(
      'application/graphql-response+json',
    );
    expect(negotiate('application/json, application/graphql-response+json')).toBe(
      'application/json',
    );
    expect(negotiate('text/event-stream')).toBeUndefined();
    expect(negotiate('application/json; charset=latin1')).toBeUndefined();
  });
});
