/**
 * Two Conduits sharing the real Redis at REDIS_URL, with the built-in lexical embedder: an
 * answer stored by one is found by meaning through the other, and an entry dropped through one
 * is gone for both. Every Redis key this file makes carries a per-run id.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { disposeAll } from '../helpers/dispose.js';
import { describeRedis, redisUrl, testPrefix, useRedis } from '../helpers/redis.js';
import { escapeGlob, unlinkMatching } from '../../src/state/redis.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
      cache {
        status
        similarity
        entryId
      }
    }
  }
`;

describeRedis('the semantic cache across replicas', () => {
  const shared = useRedis();
  const run = testPrefix().replace(/\W/g, '_');
  const alias = `chat_${run}`;
  const app = { id: `app_${run}`, key: `key-app-${run}`, semanticCache: { enabled: true } };
  const ops = { id: `ops_${run}`, key: `key-ops-${run}`, admin: true };
  let fake: ProviderFake;
  let one: TestConduit;
  let two: TestConduit;

  beforeAll(async () => {
    fake = await createOpenAIFake();
    const config = {
      redis: { url: redisUrl },
      providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys: ['sk-up'] } },
      models: { [alias]: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }] } },
      clients: [app, ops],
      cache: { semantic: { enabled: true } },
    };
    [one, two] = await Promise.all([startConduit(config), startConduit(config)]);
  });
  afterAll(async () => {
    await disposeAll();
    if (shared.redis.ready) await unlinkMatching(shared.redis.client, `*${escapeGlob(run)}*`);
  });

  const ask = async (gw: TestConduit, content: string) => {
    const input = { model: alias, messages: [{ role: 'USER', content }] };
    const { body } = await gql(
      gw.graphqlUrl,
      COMPLETE,
      { input },
      {
        authorization: `Bearer ${app.key}`,
      },
    );
    expect(body.errors).toBeUndefined();
    return body.data.complete as { content: string; cache: Record<string, any> };
  };

  it('finds through one replica what the other stored, until an admin drops it', async () => {
    expect((await ask(one, 'What is the capital of France?')).cache.status).toBe('MISS');
    // Other case, spacing and punctuation: the same words to the lexical embedder.
    const hit = await ask(two, '  what is the CAPITAL of france ');
    expect(hit.cache.status).toBe('SEMANTIC');
    expect(hit.cache.similarity).toBeGreaterThan(0.9);
    expect(hit.content).toBe('What is the capital of France?');
    // A different question in the same scope is not served.
    expect((await ask(two, 'What is the capital of Spain?')).cache.status).toBe('MISS');

    const dropped = await gql(
      two.graphqlUrl,
      'mutation ($id: ID!) { invalidateCacheEntry(id: $id) }',
      { id: hit.cache.entryId },
      { authorization: `Bearer ${ops.key}` },
    );
    expect(dropped.body.data.invalidateCacheEntry).toBe(true);
    // Replica one still holds the vector; its answer is gone from Redis: a miss.
    expect((await ask(one, 'what is the capital of France??')).cache.status).toBe('MISS');
  });
});
