/**
 * The semantic cache end to end, over real sockets: Conduit with an OpenAI fake answering chat
 * and a fake embeddings server (the `provider` embedder, through the gateway's own embeddings
 * path) that places chosen paraphrases near each other.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createSseClient } from 'graphql-sse';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { collect, wsClient } from '../helpers/clients.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { disposeAll } from '../helpers/dispose.js';
import { readRows } from '../usage-e2e/harness.js';
import { createFakeEmbeddings, type FakeEmbeddings } from './fake-embeddings.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
      cached
      costUsd
      cache {
        status
        similarity
        entryId
      }
    }
  }
`;
const STREAM = /* GraphQL */ `
  subscription ($input: CompletionInput!) {
    completionStream(input: $input) {
      delta
      cached
      done
      cache {
        status
        similarity
        entryId
      }
    }
  }
`;

const GROUPS = [
  ['What is the capital of France?', "Which city is France's capital?", 'Name the French capital.'],
  ['How do I reset my password?', 'I forgot my password, how can I set a new one?'],
  ['Is 5 mg of melatonin safe?', 'Is 50 mg of melatonin safe?'],
  ['Can I take ibuprofen with alcohol?', 'Can I not take ibuprofen with alcohol?'],
  ['What does HTTP stand for?', 'HTTP is short for what?', 'Expand the acronym HTTP.'],
  ['Tell me a joke about cats.', 'Tell me a cat joke.', 'Any jokes about cats?'],
  ['How tall is Mount Everest?', "What is Everest's height?", 'Everest: how high is it?'],
  ['Who wrote Hamlet?', 'Hamlet was written by whom?', 'Name the author of Hamlet.'],
  ['Describe the water cycle.', 'Explain the water cycle.'],
  ['What is photosynthesis?', 'Explain photosynthesis briefly.'],
  ['What is a black hole?', 'Explain what a black hole is.', 'Black holes: what are they?'],
  ['What is dark matter?', 'Explain dark matter.'],
  // Related, not the same question: a similarity near 0.5.
  { texts: ['Who wrote Macbeth?', 'When was Macbeth first performed?'], spread: 1 },
];

const alice = { id: 'alice', key: 'key-alice-1f0c', semanticCache: { enabled: true } };
const bob = { id: 'bob', key: 'key-bob-77aa', semanticCache: { enabled: true } };
const EMBED_KEY = 'sk-embeddings-secret-5d1e9a';
const ops = { id: 'ops', key: 'key-ops-30be', admin: true };
const as = (who: { key: string }) => ({ authorization: `Bearer ${who.key}` });

let chat: ProviderFake;
let embeddings: FakeEmbeddings;
let gw: TestConduit;
const database = `sqlite:${join(mkdtempSync(join(tmpdir(), 'conduit-semantic-')), 'usage.db')}`;

beforeAll(async () => {
  chat = await createOpenAIFake();
  embeddings = await createFakeEmbeddings(GROUPS);
  gw = await startConduit({
    database: { url: database },
    providers: {
      up: { type: 'openai', baseUrl: chat.baseUrl, keys: ['sk-chat-test'] },
      first: { type: 'openai', baseUrl: chat.baseUrl, keys: ['sk-chat-first'] },
      emb: { type: 'openai-compatible', baseUrl: embeddings.baseUrl, keys: [EMBED_KEY] },
    },
    models: {
      chat: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }] },
      backed: {
        targets: [
          { provider: 'first', model: 'gpt-4o-mini' },
          { provider: 'up', model: 'gpt-4o-mini' },
        ],
      },
    },
    clients: [alice, bob, ops],
    cache: {
      semantic: {
        enabled: true,
        embedder: { type: 'provider', provider: 'emb', model: 'embed-small', deadlineMs: 300 },
      },
    },
    retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
  });
});
afterAll(disposeAll);

type Message = { role: 'SYSTEM' | 'USER' | 'ASSISTANT'; content: string };
const ask = (content: string, extra: Record<string, unknown> = {}, system?: string) => ({
  model: 'chat',
  messages: [
    ...(system ? [{ role: 'SYSTEM', content: system }] : []),
    { role: 'USER', content },
  ] as Message[],
  ...extra,
});

async function complete(who: { key: string }, input: Record<string, unknown>) {
  const { body } = await gql(gw.graphqlUrl, COMPLETE, { input }, as(who));
  expect(body.errors).toBeUndefined();
  return body.data.complete as {
    content: string;
    cached: boolean;
    costUsd: number;
    cache: { status: string; similarity: number | null; entryId: string | null };
  };
}

async function metric(result: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`conduit_semantic_cache_requests_total{result="${result}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** How many embeddings the `provider` embedder's latency histogram has seen. */
async function embedCount(): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('conduit_semantic_cache_embed_seconds_count{embedder="provider"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('semantic cache', () => {
  it('answers a paraphrase from the cache, with its similarity and entry', async () => {
    const [hits, misses, embedded] = [
      await metric('hit'),
      await metric('miss'),
      await embedCount(),
    ];
    const first = await complete(alice, ask('What is the capital of France?'));
    expect(first.cache).toEqual({ status: 'MISS', similarity: null, entryId: null });
    expect(first.content).toBe('What is the capital of France?');

    const again = await complete(alice, ask("Which city is France's capital?"));
    expect(again.cache.status).toBe('SEMANTIC');
    expect(again.cache.similarity).toBeGreaterThanOrEqual(0.95);
    expect(again.cache.entryId).toEqual(expect.any(String));
    expect(again.cached).toBe(true);
    expect(again.content).toBe('What is the capital of France?');

    // The exact cache still answers first.
    const exact = await complete(alice, ask('What is the capital of France?'));
    expect(exact.cache).toEqual({ status: 'EXACT', similarity: null, entryId: null });
    // Metrics: one miss, one hit, two embeddings timed (an exact hit embeds nothing).
    expect(await metric('miss')).toBe(misses + 1);
    expect(await metric('hit')).toBe(hits + 1);
    expect(await embedCount()).toBe(embedded + 2);
  });

  it('never serves another tenant, another system prompt or other parameters', async () => {
    await complete(alice, ask('How do I reset my password?'));
    const paraphrase = 'I forgot my password, how can I set a new one?';
    expect((await complete(bob, ask(paraphrase))).cache.status).toBe('MISS');
    expect(
      (await complete(alice, ask(paraphrase, {}, 'You answer as a pirate.'))).cache.status,
    ).toBe('MISS');
    expect((await complete(alice, ask(paraphrase, { temperature: 0.5 }))).cache.status).toBe(
      'MISS',
    );
    // The same in every respect is a hit.
    expect((await complete(alice, ask(paraphrase))).cache.status).toBe('SEMANTIC');
  });

  it('guards numbers and negations: near in meaning, yet a miss, counted as guarded', async () => {
    const guarded = await metric('guarded');
    await complete(alice, ask('Is 5 mg of melatonin safe?'));
    const other = await complete(alice, ask('Is 50 mg of melatonin safe?'));
    expect(other.cache.status).toBe('MISS');
    expect(other.content).toBe('Is 50 mg of melatonin safe?');

    await complete(alice, ask('Can I take ibuprofen with alcohol?'));
    const negated = await complete(alice, ask('Can I not take ibuprofen with alcohol?'));
    expect(negated.cache.status).toBe('MISS');
    expect(negated.content).toBe('Can I not take ibuprofen with alcohol?');
    expect(await metric('guarded')).toBe(guarded + 2);
  });

  it("treats an agent's second turn as ineligible: no embedding, no hit", async () => {
    await complete(alice, ask('What does HTTP stand for?'));
    const ineligible = await metric('ineligible');
    const embedded = embeddings.inputs.length;
    const second = await complete(alice, {
      model: 'chat',
      messages: [
        { role: 'USER', content: 'Hi there' },
        { role: 'ASSISTANT', content: 'Hello! How can I help?' },
        { role: 'USER', content: 'HTTP is short for what?' },
      ],
    });
    expect(second.cache.status).toBe('MISS');
    expect(second.content).toBe('HTTP is short for what?');
    expect(embeddings.inputs.length).toBe(embedded);
    expect(await metric('ineligible')).toBe(ineligible + 1);
    expect(gw.logs.join('')).toContain('semantic cache: not eligible');
  });

  it('lets a request raise the threshold, never lower it, and not store its answer', async () => {
    await complete(alice, ask('What does HTTP stand for?'));
    const strict = await complete(
      alice,
      ask('Expand the acronym HTTP.', { cacheOptions: { minSimilarity: 0.99999 } }),
    );
    expect(strict.cache.status).toBe('MISS');
    await complete(alice, ask('Who wrote Macbeth?'));
    const lax = await complete(
      alice,
      ask('When was Macbeth first performed?', { cacheOptions: { minSimilarity: 0.1 } }),
    );
    expect(lax.cache.status).toBe('MISS');
    expect(lax.content).toBe('When was Macbeth first performed?');

    await complete(alice, ask('Who wrote Hamlet?', { cacheOptions: { noStore: true } }));
    expect((await complete(alice, ask('Hamlet was written by whom?'))).cache.status).toBe('MISS');
    // Stored in neither cache: the same words again are answered by the paraphrase's entry.
    const again = await complete(alice, ask('Who wrote Hamlet?'));
    expect(again.cache.status).toBe('SEMANTIC');
    expect(again.content).toBe('Hamlet was written by whom?');

    const { body } = await gql(
      gw.graphqlUrl,
      COMPLETE,
      { input: ask('Anything', { cacheOptions: { minSimilarity: 1.5 } }) },
      as(alice),
    );
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toContain('minSimilarity');
  });

  it('does not store an answer that did not finish with stop', async () => {
    chat.next({ text: 'Photosynthesis is', finish: 'length' });
    await complete(alice, ask('What is photosynthesis?'));
    const again = await complete(alice, ask('Explain photosynthesis briefly.'));
    expect(again.cache.status).toBe('MISS');
  });

  it("does not store a fallback's answer", async () => {
    chat.next({ fail: 'server' });
    const fellBack = await complete(alice, ask('What is a black hole?', { model: 'backed' }));
    expect(fellBack.cache.status).toBe('MISS');
    const after = await complete(alice, ask('Explain what a black hole is.', { model: 'backed' }));
    expect(after.cache.status).toBe('MISS');
    expect(after.content).toBe('Explain what a black hole is.');
    // The first target's own answer is stored.
    const hit = await complete(alice, ask('Black holes: what are they?', { model: 'backed' }));
    expect(hit.cache.status).toBe('SEMANTIC');
  });

  it('does not store a stream that was cut', async () => {
    chat.next({ fail: 'cut_after_first_token', text: 'Dark' });
    const ws = wsClient(gw.wsUrl, `Bearer ${alice.key}`);
    const results = await collect(
      ws.iterate({ query: STREAM, variables: { input: ask('What is dark matter?') } }),
    ).catch((error: unknown) => [error]);
    expect(JSON.stringify(results)).toContain('UPSTREAM_ERROR');
    const after = await complete(alice, ask('Explain dark matter.'));
    expect(after.cache.status).toBe('MISS');
  });

  it('serves from upstream when the embedder hangs, past its deadline', async () => {
    const unavailable = await metric('unavailable');
    embeddings.hang = true;
    try {
      const arrived = embeddings.nextRequest();
      const answer = await complete(alice, ask('How tall is Mount Everest?'));
      await arrived;
      expect(answer.cache.status).toBe('MISS');
      expect(answer.content).toBe('How tall is Mount Everest?');
    } finally {
      embeddings.hang = false;
    }
    expect(await metric('unavailable')).toBe(unavailable + 1);
    // The embedder's key is in no log line and no metric.
    expect(gw.logs.join('')).not.toContain(EMBED_KEY);
    expect(await (await fetch(`${gw.url}/metrics`)).text()).not.toContain(EMBED_KEY);
  });

  it('stores a streamed answer on its last event and replays hits as chunks on WS, SSE and REST', async () => {
    // Stored from a stream (graphql-ws), found by a plain completion.
    const ws = wsClient(gw.wsUrl, `Bearer ${alice.key}`);
    const streamed = await collect(
      ws.iterate({ query: STREAM, variables: { input: ask("What is Everest's height?") } }),
    );
    const last = streamed.at(-1)!.data!.completionStream as { cache: { status: string } };
    expect(last.cache.status).toBe('MISS');
    const hit = await complete(alice, ask('Everest: how high is it?'));
    expect(hit.cache.status).toBe('SEMANTIC');
    expect(hit.content).toBe("What is Everest's height?");

    // graphql-ws replay
    const viaWs = await collect(
      ws.iterate({ query: STREAM, variables: { input: ask('Everest: how high is it?') } }),
    );
    const wsChunks = viaWs.map((r) => r.data!.completionStream as Record<string, any>);
    expect(wsChunks.length).toBeGreaterThan(2);
    expect(wsChunks.filter((c) => !c.done).every((c) => c.cached && c.cache === null)).toBe(true);
    expect(wsChunks.at(-1)!.cache.status).toBe('SEMANTIC');
    expect(wsChunks.map((c) => c.delta).join('')).toBe("What is Everest's height?");

    // graphql-sse replay
    const sse = createSseClient({
      url: gw.graphqlUrl,
      headers: as(alice),
      retryAttempts: 0,
    });
    const viaSse = await collect(
      sse.iterate({ query: STREAM, variables: { input: ask('Everest: how high is it?') } }),
    );
    sse.dispose();
    const sseChunks = viaSse.map((r) => r.data!.completionStream as Record<string, any>);
    expect(sseChunks.length).toBeGreaterThan(2);
    expect(sseChunks.at(-1)!.cache.status).toBe('SEMANTIC');
    expect(sseChunks.map((c) => c.delta).join('')).toBe("What is Everest's height?");

    // REST streaming, through the official SDK
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: alice.key, maxRetries: 0 });
    const { data: stream, response } = await openai.chat.completions
      .create({
        model: 'chat',
        stream: true,
        messages: [{ role: 'user', content: 'Everest: how high is it?' }],
      })
      .withResponse();
    expect(response.headers.get('x-conduit-cache')).toBe('semantic-hit');
    expect(Number(response.headers.get('x-conduit-cache-similarity'))).toBeGreaterThan(0.95);
    const deltas: string[] = [];
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) deltas.push(delta);
    }
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe("What is Everest's height?");

    // REST, not streamed
    const plain = await openai.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: "What is Everest's height?" }] })
      .withResponse();
    expect(plain.response.headers.get('x-conduit-cache')).toBe('HIT');
  });

  it('records hit kind, similarity and savings; the usage query reports them apart', async () => {
    await complete(bob, ask('Describe the water cycle.'));
    const hit = await complete(bob, ask('Explain the water cycle.'));
    expect(hit.cache.status).toBe('SEMANTIC');
    expect(hit.costUsd).toBe(0);
    const { body } = await gql(
      gw.graphqlUrl,
      /* GraphQL */ `
        {
          usage {
            requests
            cacheHits
            semanticHits
            savedUsd
            semanticSavedUsd
          }
        }
      `,
      {},
      as(bob),
    );
    expect(body.errors).toBeUndefined();
    const usage = body.data.usage;
    expect(usage.semanticHits).toBe(1);
    expect(usage.cacheHits).toBeGreaterThanOrEqual(1);
    expect(usage.semanticSavedUsd).toBeGreaterThan(0);
    expect(usage.savedUsd).toBeGreaterThanOrEqual(usage.semanticSavedUsd);
    await gw.conduit.services.usage.flush();
    const rows = await readRows(database);
    const semantic = rows.filter((r) => r.client_id === 'bob' && r.cache_kind === 'semantic');
    expect(semantic).toHaveLength(1);
    expect(semantic[0]!.similarity).toBeGreaterThan(0.95);
    expect(semantic[0]!.saved_usd).toBeGreaterThan(0);
    expect(semantic[0]!.cache_hit).toBe(1);
    // The embedder's calls are usage of their own, charged to the caller.
    expect(rows.some((r) => r.client_id === 'bob' && r.provider === 'emb')).toBe(true);
  });

  it('lets admins drop one entry or a whole scope; others may not', async () => {
    await complete(alice, ask('Tell me a joke about cats.'));
    const hit = await complete(alice, ask('Tell me a cat joke.'));
    expect(hit.cache.status).toBe('SEMANTIC');
    const DROP = 'mutation ($id: ID!) { invalidateCacheEntry(id: $id) }';
    const refused = await gql(gw.graphqlUrl, DROP, { id: hit.cache.entryId }, as(alice));
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const dropped = await gql(gw.graphqlUrl, DROP, { id: hit.cache.entryId }, as(ops));
    expect(dropped.body.data.invalidateCacheEntry).toBe(true);
    // A hit is not stored again (neither exactly nor by meaning): the entry is gone.
    const missed = await complete(alice, ask('Tell me a cat joke.'));
    expect(missed.cache.status).toBe('MISS');
    expect(missed.content).toBe('Tell me a cat joke.');

    const found = await complete(alice, ask('Any jokes about cats?'));
    expect(found.cache.status).toBe('SEMANTIC');
    const SCOPE = 'mutation ($id: ID!) { invalidateCacheScope(entryId: $id) }';
    const cleared = await gql(gw.graphqlUrl, SCOPE, { id: found.cache.entryId }, as(ops));
    expect(cleared.body.errors).toBeUndefined();
    expect(cleared.body.data.invalidateCacheScope).toBeGreaterThanOrEqual(1);
    expect((await complete(alice, ask('Any jokes about cats?'))).cache.status).toBe('MISS');
    // Another scope (bob's) kept its entries.
    await complete(bob, ask('What is the capital of France?'));
    expect((await complete(bob, ask('Name the French capital.'))).cache.status).toBe('SEMANTIC');
  });
});
