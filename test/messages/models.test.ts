/**
 * `/v1/models` and the `models` query list what a client can call by name: the aliases, then
 * each provider's configured models as `provider/model` (echo's `echo/echo`), filtered by the
 * client's allow-list, never a glob.
 */
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';

const KEYS = { all: 'ck-models-all-0001', narrow: 'ck-models-narrow-0001' };

describe('the models a client can call by name', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    gw = await startConduit({
      providers: {
        echo: { type: 'echo' },
        openai: { type: 'openai', keys: ['sk-unused'], models: ['gpt-4o-mini', 'gpt-4o'] },
        ollama: { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1' },
      },
      models: { fast: { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
      clients: [
        { id: 'all', key: KEYS.all },
        { id: 'narrow', key: KEYS.narrow, models: ['fast', 'openai/gpt-4o*'] },
      ],
    });
  });

  const rest = (key: string) =>
    new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1` }).models
      .list()
      .then((page) => page.data.map((m) => m.id));
  const graphql = (key: string) =>
    gql(
      gw.graphqlUrl,
      '{ models { alias strategy targets { provider model } } }',
      {},
      {
        authorization: `Bearer ${key}`,
      },
    ).then((r) => r.body.data.models as { alias: string; targets: unknown[] }[]);

  it('lists aliases and provider/model names, no globs, on REST and GraphQL alike', async () => {
    const names = ['fast', 'echo/echo', 'openai/gpt-4o-mini', 'openai/gpt-4o'];
    expect(await rest(KEYS.all)).toEqual(names);
    const models = await graphql(KEYS.all);
    expect(models.map((m) => m.alias)).toEqual(names);
    expect(models[2]).toEqual({
      alias: 'openai/gpt-4o-mini',
      strategy: 'FALLBACK',
      targets: [{ provider: 'openai', model: 'gpt-4o-mini' }],
    });
  });

  it('filters by the client’s allow-list', async () => {
    const names = ['fast', 'openai/gpt-4o-mini', 'openai/gpt-4o'];
    expect(await rest(KEYS.narrow)).toEqual(names);
    expect((await graphql(KEYS.narrow)).map((m) => m.alias)).toEqual(names);
  });
});
