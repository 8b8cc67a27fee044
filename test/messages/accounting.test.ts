/**
 * One accounting for every route: the same traffic sent through GraphQL, chat completions,
 * responses (passed through to the OpenAI upstream as is), messages (translated) and embeddings
 * meets the same rate limit, is charged to the same budget, and leaves the same usage rows, each
 * recorded with its route (`usage(groupBy: [ROUTE])`). A new route is one entry in `routes`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';

const UPSTREAM_KEY = 'sk-upstream-accounting-0001';
const ADMIN_KEY = 'ck-accounting-admin-0001';
const PROMPT = 'How many roads must a man walk down';
/** Requests each client may make before its limit. */
const LIMIT = 2;

type Outcome = 'ok' | 'limited' | `other ${string}`;

interface RouteCase {
  route: string;
  /** Whether the route answers chats (and so meets the same tokens as GraphQL). */
  chat: boolean;
  send(gw: TestConduit, key: string): Promise<Outcome>;
}

const post = async (
  gw: TestConduit,
  path: string,
  body: unknown,
  headers: Record<string, string>,
) => {
  const response = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
};

const byStatus = (status: number): Outcome =>
  status === 200 ? 'ok' : status === 429 ? 'limited' : `other ${status}`;

const routes: RouteCase[] = [
  {
    route: 'graphql',
    chat: true,
    async send(gw, key) {
      const { body } = await gql(
        gw.graphqlUrl,
        'mutation ($input: CompletionInput!) { complete(input: $input) { content } }',
        { input: { model: 'fast', maxTokens: 100, messages: [{ role: 'USER', content: PROMPT }] } },
        { authorization: `Bearer ${key}` },
      );
      const code = body.errors?.[0]?.extensions?.code;
      return code === undefined ? 'ok' : code === 'RATE_LIMITED' ? 'limited' : `other ${code}`;
    },
  },
  {
    route: 'chat_completions',
    chat: true,
    send: async (gw, key) =>
      byStatus(
        await post(
          gw,
          '/v1/chat/completions',
          { model: 'fast', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] },
          { authorization: `Bearer ${key}` },
        ),
      ),
  },
  {
    route: 'messages',
    chat: true,
    send: async (gw, key) =>
      byStatus(
        await post(
          gw,
          '/v1/messages',
          { model: 'fast', max_tokens: 100, messages: [{ role: 'user', content: PROMPT }] },
          { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
        ),
      ),
  },
  {
    route: 'responses',
    chat: true,
    send: async (gw, key) =>
      byStatus(
        await post(
          gw,
          '/v1/responses',
          { model: 'fast', max_output_tokens: 100, input: PROMPT },
          { authorization: `Bearer ${key}` },
        ),
      ),
  },
  {
    route: 'embeddings',
    chat: false,
    send: async (gw, key) =>
      byStatus(
        await post(
          gw,
          '/v1/embeddings',
          { model: 'fast', input: PROMPT },
          { authorization: `Bearer ${key}` },
        ),
      ),
  },
];

const keyOf = (route: string) => `ck-accounting-${route}-0001`;

describe('one accounting for every route', () => {
  let fake: ProviderFake;
  let gw: TestConduit;

  beforeAll(async () => {
    fake = await createOpenAIFake({ keys: [UPSTREAM_KEY] });
    gw = await startConduit({
      providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys: [UPSTREAM_KEY] } },
      models: { fast: { targets: [{ provider: 'up', model: 'gpt-4o-mini' }] } },
      pricing: { 'up/gpt-4o-mini': { input: 1000, output: 2000 } },
      cache: { enabled: false },
      clients: [
        { id: 'admin', key: ADMIN_KEY, admin: true },
        ...routes.map(({ route }) => ({
          id: route,
          key: keyOf(route),
          rateLimits: [{ requests: LIMIT, perSeconds: 3600 }],
          budget: { usd: 1000, period: 'month' },
        })),
      ],
    });
  });
  afterAll(() => fake.close());

  /** Each route's outcomes, budget spend and usage, once all the traffic is in. */
  const results = new Map<
    string,
    { outcomes: Outcome[]; spentUsd: number; usage: Record<string, unknown>[] }
  >();

  it.each(routes)('counts $route against the same limit and budget', async ({ route, send }) => {
    const outcomes: Outcome[] = [];
    for (let i = 0; i <= LIMIT; i++) outcomes.push(await send(gw, keyOf(route)));
    expect(outcomes).toEqual([...Array<Outcome>(LIMIT).fill('ok'), 'limited']);

    const viewer = await gql(
      gw.graphqlUrl,
      '{ viewer { spentUsd } }',
      {},
      {
        authorization: `Bearer ${keyOf(route)}`,
      },
    );
    const usage = await gql(
      gw.graphqlUrl,
      `query ($client: String) {
        usage(filter: { client: $client }, groupBy: [ROUTE]) {
          groups { route requests errors promptTokens completionTokens costUsd }
        }
      }`,
      { client: route },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    expect(usage.body.errors).toBeUndefined();
    const groups = usage.body.data.usage.groups as Record<string, unknown>[];
    // Every request recorded, the refused one too, all under this route.
    expect(groups).toEqual([expect.objectContaining({ route, requests: LIMIT + 1, errors: 1 })]);
    const spentUsd = viewer.body.data.viewer.spentUsd as number;
    expect(spentUsd).toBeGreaterThan(0);
    expect(spentUsd).toBeCloseTo(groups[0]!.costUsd as number, 12);
    results.set(route, { outcomes, spentUsd, usage: groups });
  });

  it('charges the same chat traffic the same on every chat route', () => {
    const chats = routes.filter((r) => r.chat).map((r) => results.get(r.route));
    expect(chats.every(Boolean)).toBe(true);
    const strip = (row: Record<string, unknown>) => ({ ...row, route: undefined });
    const [first, ...rest] = chats;
    for (const other of rest) {
      expect(other!.spentUsd).toBeCloseTo(first!.spentUsd, 12);
      expect(other!.usage.map(strip)).toEqual(first!.usage.map(strip));
    }
  });
});
