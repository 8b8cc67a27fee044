/**
 * A session token's per-user budget without Redis survives a restart: the user's spend this
 * period is seeded from the usage store (a SQLite file) before the user's first request in the
 * new process, as a client budget's is. Another user of the same client starts from nothing.
 */
import { describe, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { createSqliteDatabase } from '../helpers/databases.js';
import { onDispose } from '../helpers/dispose.js';

const KEY = 'ck-shop-user-budget-key-0001';
const SECRET = 'session-secret-for-user-budget-0123456789';
/** $0.001 an answer token: the fake answers with the ten words it is sent, $0.01 a request. */
const PER_TOKEN = 0.001;
const TEN_WORDS = 'one two three four five six seven eight nine ten';
/** Three answers' worth; the third is refused once $0.02 is spent ($0.01 pays for 10 tokens). */
const USER_BUDGET = 0.03;

const MINT = /* GraphQL */ `
  mutation ($input: SessionTokenInput!) {
    createSessionToken(input: $input) {
      token
    }
  }
`;
const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
      costUsd
    }
  }
`;

describe('a per-user budget without Redis', () => {
  it('keeps what the user spent across a restart on a SQLite file', async () => {
    const fake = await createOpenAIFake();
    onDispose(() => fake.close());
    const database = createSqliteDatabase();
    onDispose(() => database.drop());
    const start = () =>
      startConduit(
        {
          database: { url: database.url },
          providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys: ['sk-up-user-budget'] } },
          pricing: { 'up/gpt-4o-mini': { input: 0, output: PER_TOKEN * 1e6 } },
          clients: [{ id: 'shop', key: '${SHOP_KEY}' }],
          auth: { sessionTokens: { secret: '${SESSION_SECRET}' } },
          cache: { enabled: false },
          retry: { attempts: 1 },
        },
        { SHOP_KEY: KEY, SESSION_SECRET: SECRET },
      );
    const mint = async (gw: TestConduit, user: string) =>
      (
        await gql(
          gw.graphqlUrl,
          MINT,
          { input: { user, budgetUsd: USER_BUDGET } },
          { authorization: `Bearer ${KEY}` },
        )
      ).body.data.createSessionToken.token as string;
    const complete = async (gw: TestConduit, token: string) =>
      (
        await gql(
          gw.graphqlUrl,
          COMPLETE,
          {
            input: { model: 'up/gpt-4o-mini', messages: [{ role: 'USER', content: TEN_WORDS }] },
          },
          { authorization: `Bearer ${token}` },
        )
      ).body;

    const first = await start();
    const alice = await mint(first, 'alice');
    for (let i = 0; i < 2; i++) {
      expect((await complete(first, alice)).data?.complete.costUsd).toBeCloseTo(0.01, 9);
    }
    await first.stop();

    const second = await start();
    const refused = await complete(second, alice);
    expect(refused.errors?.[0]).toMatchObject({
      message: `the budget of user "alice" of client "shop" ($${USER_BUDGET}) has $0.01 left, too little for this request`,
      extensions: { code: 'BUDGET_EXCEEDED' },
    });
    // The same client's other user has spent nothing.
    const bob = await mint(second, 'bob');
    expect((await complete(second, bob)).data?.complete.content).toBe(TEN_WORDS);
  });
});
