/**
 * The pipeline as services.ts wires it, over in-memory state (harness.ts),
 * against fake upstreams speaking OpenAI's wire: the exact cache, fallback in the route's order,
 * the id a failure was recorded under, the records every request owes and writes, and
 * embeddings admitted like completions (rate limits, budget) and charged to the budget.
 */
import { describe, expect, it } from 'vitest';
import { requestIdOf } from '../../src/gateway/gateway.js';
import type { ChatRequest } from '../../src/gateway/types.js';
import { createOpenAIFake } from '../fakes/openai.js';
import { onDispose } from '../helpers/dispose.js';
import { anonymous, startGateway } from './harness.js';

async function fake() {
  const upstream = await createOpenAIFake();
  onDispose(() => upstream.close());
  return upstream;
}

const ask = (model: string, content = 'hello there', extra: Partial<ChatRequest> = {}) =>
  ({ model, messages: [{ role: 'user', content }], cache: 'DEFAULT', ...extra }) as ChatRequest;

/**
 * Every job queued after the answer has run (records are written in the check phase), and every
 * record made so far has reached `records` (its event comes a few microtasks after it is made).
 */
const afterAnswers = () => new Promise((resolve) => setImmediate(resolve));

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error & { code?: string },
  );

describe('the pipeline', () => {
  it('answers a repeated request from the cache, recording the hit and what it saved', async () => {
    const up = await fake();
    const { gateway, records } = await startGateway({
      providers: { up: { type: 'openai', baseUrl: up.baseUrl, keys: ['sk-up-1'] } },
      pricing: { 'up/gpt-4o-mini': { input: 1, output: 2 } },
    });
    const first = await gateway.complete(ask('up/gpt-4o-mini'), anonymous);
    const second = await gateway.complete(ask('up/gpt-4o-mini'), anonymous);
    expect(up.upstream.calls).toHaveLength(1);
    expect(first.cached).toBe(false);
    expect(first.costUsd).toBeGreaterThan(0);
    expect(second).toMatchObject({ cached: true, costUsd: 0, content: first.content });
    expect(second.id).not.toBe(first.id);
    await afterAnswers();
    expect(records.map((r) => [r.id, r.cacheHit, r.savedUsd])).toEqual([
      [first.id, false, 0],
      [second.id, true, first.costUsd],
    ]);
  });

  it('does not cache an answer cut short by the ceiling a budget paid for', async () => {
    const up = await fake();
    const { gateway, callerOf } = await startGateway({
      providers: { up: { type: 'openai', baseUrl: up.baseUrl, keys: ['sk-up-1'] } },
      pricing: { 'up/gpt-4o-mini': { input: 1, output: 2 } },
      clients: [{ id: 'team', key: 'ck-team-0001', budget: { usd: 10, maxTokens: 40 } }],
    });
    const team = callerOf('ck-team-0001');
    up.next({ text: 'cut short', finish: 'length' });
    await gateway.complete(ask('up/gpt-4o-mini'), team);
    expect(
      (up.upstream.calls[0]!.json as { max_completion_tokens?: number }).max_completion_tokens,
    ).toBe(40);
    const again = await gateway.complete(ask('up/gpt-4o-mini'), team);
    expect(again.cached).toBe(false);
    expect(up.upstream.calls).toHaveLength(2);
  });

  it("falls back in the route's order, listing every try, and records the target that answered", async () => {
    const first = await fake();
    const second = await fake();
    const { gateway, records } = await startGateway({
      providers: {
        a: { type: 'openai', baseUrl: first.baseUrl, keys: ['sk-a-1'] },
        b: { type: 'openai', baseUrl: second.baseUrl, keys: ['sk-b-1'] },
      },
      models: {
        smart: {
          strategy: 'fallback',
          targets: [
            { provider: 'a', model: 'gpt-4o' },
            { provider: 'b', model: 'gpt-4o-mini' },
          ],
        },
      },
      retry: { attempts: 1 },
    });
    first.next({ fail: 'server' });
    const answer = await gateway.complete(ask('smart'), anonymous);
    expect(answer.provider).toBe('b');
    expect(answer.attempts.map((a) => [a.provider, a.status])).toEqual([
      ['a', 'server'],
      ['b', 'ok'],
    ]);
    await afterAnswers();
    expect(records[0]).toMatchObject({ alias: 'smart', provider: 'b', attempts: 2 });
  });

  it('throws a failure marked with the id it was recorded under, once, with nothing owed', async () => {
    const up = await fake();
    const { gateway, records, owed } = await startGateway({
      providers: { up: { type: 'openai', baseUrl: up.baseUrl, keys: ['sk-up-1'] } },
      retry: { attempts: 1 },
    });
    up.next({ fail: 'bad_request' });
    const pending = gateway.complete(ask('up/gpt-4o-mini'), anonymous);
    // Owed from its start, before any await.
    expect(owed.count).toBe(1);
    const error = await failure(pending);
    expect(error.code).toBe('BAD_USER_INPUT');
    // Recorded by the time it is thrown.
    expect(owed.count).toBe(0);
    await afterAnswers();
    expect(records).toHaveLength(1);
    expect(requestIdOf(error)).toBe(records[0]!.id);
    expect(records[0]).toMatchObject({ status: 'error', errorCode: 'BAD_USER_INPUT' });

    // Refused before any provider (bad input): recorded and marked all the same.
    const refused = await failure(gateway.complete(ask('nobody/model'), anonymous));
    expect(owed.count).toBe(0);
    await afterAnswers();
    expect(requestIdOf(refused)).toBe(records[1]!.id);
    expect(records[1]).toMatchObject({ provider: null, alias: 'nobody/model' });
  });

  it('owes a record from the start of a request until it is written to the store', async () => {
    const up = await fake();
    const { gateway, owed, usage } = await startGateway({
      providers: { up: { type: 'openai', baseUrl: up.baseUrl, keys: ['sk-up-1'] } },
    });
    const pending = gateway.complete(ask('up/gpt-4o-mini', 'write me'), anonymous);
    expect(owed.count).toBe(1);
    const answer = await pending;
    // Answered, its record still owed: it is made after the answer is out.
    expect(owed.count).toBe(1);
    expect(await owed.settled(5_000)).toBe(true);
    await usage.flush();
    const report = await usage.query({}, []);
    expect(report.requests).toBe(1);
    expect(answer.content).toBe('write me');
  });
});

describe('embeddings, through the same pipeline', () => {
  const providers = (baseUrl: string) => ({
    up: { type: 'openai', baseUrl, keys: ['sk-up-1'] },
  });
  const embed = (input: string[]) => ({ model: 'up/text-embedding-3-small', input });

  it("are refused once the client's budget is spent, and counted in its spend", async () => {
    const up = await fake();
    const { gateway, admitter, callerOf, records } = await startGateway({
      providers: providers(up.baseUrl),
      // $0.001 a token: five words cost $0.005.
      pricing: { 'up/text-embedding-3-small': { input: 1000, output: 0 } },
      clients: [{ id: 'team', key: 'ck-team-0001', budget: { usd: 0.02, period: 'day' } }],
    });
    const team = callerOf('ck-team-0001');
    let charged = 0;
    let refusal: (Error & { code?: string }) | undefined;
    for (let i = 0; i < 20 && !refusal; i++) {
      try {
        charged += (await gateway.embed(embed(['one two three four five']), team)).costUsd;
      } catch (error) {
        refusal = error as Error & { code?: string };
      }
    }
    expect(refusal?.code).toBe('BUDGET_EXCEEDED');
    expect(charged).toBeGreaterThan(0);
    expect(await admitter.spent('team')).toBeCloseTo(charged, 9);
    expect(await admitter.spent('team')).toBeLessThanOrEqual(0.02);
    await afterAnswers();
    const failed = records.filter((r) => r.status === 'error');
    expect(failed.map((r) => r.errorCode)).toEqual(['BUDGET_EXCEEDED']);
  });

  it('count against the request rate limits', async () => {
    const up = await fake();
    const { gateway, callerOf } = await startGateway({
      providers: providers(up.baseUrl),
      clients: [{ id: 'team', key: 'ck-team-0001', rateLimits: [{ requests: 2, perSeconds: 60 }] }],
    });
    const team = callerOf('ck-team-0001');
    await gateway.embed(embed(['a']), team);
    await gateway.complete(ask('up/gpt-4o-mini'), team);
    const error = await failure(gateway.embed(embed(['b']), team));
    expect(error.code).toBe('RATE_LIMITED');
    expect(up.upstream.calls).toHaveLength(2);
  });

  it('are recorded with their user, and refused with a clear error when empty', async () => {
    const up = await fake();
    const { gateway, records } = await startGateway({ providers: providers(up.baseUrl) });
    const made = await gateway.embed({ ...embed(['a b']), user: 'ann' }, anonymous);
    expect(made.embeddings).toHaveLength(1);
    const error = await failure(gateway.embed({ ...embed([]), user: 'bob' }, anonymous));
    expect(error.message).toMatch(/input must not be empty/);
    await afterAnswers();
    // A failure is recorded at once, an answer once it is out.
    expect(records.map((r) => [r.user, r.status])).toEqual([
      ['bob', 'error'],
      ['ann', 'ok'],
    ]);
  });
});
