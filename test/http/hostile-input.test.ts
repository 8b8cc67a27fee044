/**
 * Small hostile inputs a probe sent, each answered with a clear 400 naming what is wrong (never
 * a 500), with the gateway serving on: a model id in the path that is not valid
 * percent-encoding, and tool parameters nested thousands of levels deep (REST and GraphQL).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { assertSchema } from '../helpers/openai-schemas.js';

const KEY = 'ck-hostile-app';
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

/** `{"a":{"a":…{}}}`: `levels` objects, one in another, as text (JSON.stringify would overflow). */
const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;

const restBody = (parameters: string) =>
  `{"model":"echo/echo","messages":[{"role":"user","content":"hi"}],` +
  `"tools":[{"type":"function","function":{"name":"f","parameters":${parameters}}}]}`;

const COMPLETE = 'mutation ($input: CompletionInput!) { complete(input: $input) { content } }';
const graphqlBody = (parameters: string) =>
  `{"query":${JSON.stringify(COMPLETE)},"variables":{"input":{"model":"echo/echo",` +
  `"messages":[{"role":"USER","content":"hi"}],"tools":[{"name":"f","parameters":${parameters}}]}}}`;

describe('hostile inputs', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
    });
  });

  const errorLines = () =>
    gw.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);

  it('answers a model id that is not valid percent-encoding with 400 in OpenAI’s shape', async () => {
    for (const id of ['%E0%A4%A', '%', '%ZZ', 'a%2']) {
      const response = await fetch(`${gw.url}/v1/models/${id}`, { headers: auth });
      const body = await response.json();
      expect([id, response.status]).toEqual([id, 400]);
      assertSchema('ErrorResponse', body);
      expect(body.error).toMatchObject({
        type: 'invalid_request_error',
        param: 'model',
        message: 'the model id in the path is not valid percent-encoding',
      });
    }
    const fine = await fetch(`${gw.url}/v1/models/${encodeURIComponent('echo/echo')}`, {
      headers: auth,
    });
    expect(fine.status).toBe(200);
    expect(errorLines()).toEqual([]);
  });

  it('refuses REST tool parameters nested 20,000 deep with a 400 naming the field', async () => {
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: restBody(nested(20_000)),
    });
    const body = await response.json();
    expect(response.status).toBe(400);
    assertSchema('ErrorResponse', body);
    expect(body.error).toMatchObject({
      type: 'invalid_request_error',
      param: 'tools[0].function.parameters',
      message: 'tools[0].function.parameters is nested deeper than 64 levels',
    });
    expect(errorLines()).toEqual([]);
  });

  it('refuses GraphQL tool parameters nested 20,000 deep with BAD_USER_INPUT naming the field', async () => {
    const response = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: auth,
      body: graphqlBody(nested(20_000)),
    });
    const body = await response.json();
    expect(body.data).toBeNull();
    expect(body.errors[0]).toMatchObject({
      message: 'tools[0].parameters is nested deeper than 64 levels',
      extensions: { code: 'BAD_USER_INPUT', field: 'tools[0].parameters' },
    });
    expect(errorLines()).toEqual([]);
  });

  it('takes parameters 64 levels deep, and refuses 65', async () => {
    const rest = (levels: number) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: auth,
        body: restBody(nested(levels)),
      });
    expect((await rest(64)).status).toBe(200);
    expect((await rest(65)).status).toBe(400);
    const graphql = async (levels: number) =>
      (
        await (
          await fetch(`${gw.url}/graphql`, {
            method: 'POST',
            headers: auth,
            body: graphqlBody(nested(levels)),
          })
        ).json()
      ).errors?.[0]?.extensions?.code;
    expect(await graphql(64)).toBeUndefined();
    expect(await graphql(65)).toBe('BAD_USER_INPUT');
  });
});
