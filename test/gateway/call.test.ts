/**
 * The call loop (call.ts) on its own: real providers against fake OpenAI upstreams, real key
 * pools over in-memory cooldowns, real breakers. Retries, key rotation on 429 and 401, circuit
 * breakers, and an upstream's retry-after honoured only within the request's deadline.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Breakers, callTargets, type CallDeps } from '../../src/gateway/call.js';
import { Cancel } from '../../src/gateway/cancel.js';
import { startDeadline } from '../../src/gateway/deadline.js';
import type { GatewayError } from '../../src/gateway/errors.js';
import { createKeyPools } from '../../src/gateway/keys.js';
import type { Attempt, ChatRequest, Target } from '../../src/gateway/types.js';
import { Transport } from '../../src/providers/http.js';
import { createProvider } from '../../src/providers/index.js';
import { createCooldowns } from '../../src/state/cooldowns.js';
import { createOpenAIFake } from '../fakes/openai.js';
import { onDispose } from '../helpers/dispose.js';

const request: ChatRequest = {
  model: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  cache: 'BYPASS',
};

async function setup(
  upstreams: Record<string, string[]>,
  retry: Record<string, number> = {},
  breaker: { failures: number; halfOpenAfterMs: number } = { failures: 5, halfOpenAfterMs: 60_000 },
) {
  const fakes = new Map<string, Awaited<ReturnType<typeof createOpenAIFake>>>();
  const providers: Record<string, unknown> = {};
  for (const [name, keys] of Object.entries(upstreams)) {
    const fake = await createOpenAIFake();
    onDispose(() => fake.close());
    fakes.set(name, fake);
    providers[name] = { type: 'openai', baseUrl: fake.baseUrl, keys };
  }
  const config = parseConfig(
    { providers, retry: { initialDelayMs: 1, maxDelayMs: 2000, ...retry } },
    {},
  );
  const transport = new Transport();
  onDispose(() => transport.close());
  const keys = createKeyPools(
    new Map(Object.entries(config.providers).map(([name, p]) => [name, p.keys])),
    createCooldowns(),
  );
  onDispose(() => keys.close());
  const deps: CallDeps = {
    providers: new Map(
      Object.entries(config.providers).map(([name, p]) => [
        name,
        createProvider(name, p, transport),
      ]),
    ),
    keys,
    breakers: new Breakers(breaker.failures, breaker.halfOpenAfterMs),
    retry: config.retry,
  };
  /** One request: its deadline started now, every try listed in `attempts`. */
  const call = async (targets: Target[]) => {
    const deadline = startDeadline(new Cancel(), config.retry.deadlineMs);
    const attempts: Attempt[] = [];
    try {
      const context = {
        request,
        targets,
        signal: deadline.signal,
        expired: () => deadline.expired,
        remainingMs: deadline.remainingMs,
      };
      const { result, target } = await callTargets(deps, context, attempts, (p, c) => p.chat(c));
      return { result, target, attempts };
    } catch (error) {
      return { error: error as GatewayError, attempts };
    } finally {
      deadline.clear();
    }
  };
  return { fakes, deps, call, fake: (name: string) => fakes.get(name)! };
}

const target = (provider: string, model = 'gpt-4o-mini'): Target => ({
  provider,
  model,
  weight: 1,
});
const statuses = (attempts: Attempt[]) => attempts.map((a) => `${a.provider}:${a.status}`);
const keyOf = (call: { headers: Record<string, unknown> }) => call.headers.authorization;

describe('the call loop', () => {
  it('retries a retryable failure on the same target, listing each try', async () => {
    const { call, fake } = await setup({ a: ['sk-a-1'] }, { attempts: 3 });
    fake('a').next({ fail: 'server' }, { fail: 'overloaded' });
    const { result, attempts } = await call([target('a')]);
    expect(result?.content).toBe('hi');
    expect(statuses(attempts)).toEqual(['a:server', 'a:overloaded', 'a:ok']);
  });

  it('stops at once on a failure that is the caller’s (an upstream 400), trying no fallback', async () => {
    const { call, fake } = await setup({ a: ['sk-a-1'], b: ['sk-b-1'] });
    fake('a').next({ fail: 'bad_request' });
    const { error, attempts } = await call([target('a'), target('b')]);
    expect(error?.code).toBe('BAD_USER_INPUT');
    expect(statuses(attempts)).toEqual(['a:bad_request']);
    expect(fake('b').upstream.calls).toHaveLength(0);
  });

  it('tries the next key at once on a 429, and takes a refused key (401) out of the pool', async () => {
    const { call, fake } = await setup({ a: ['sk-a-1', 'sk-a-2', 'sk-a-3'] }, { attempts: 1 });
    fake('a').next({ fail: 'rate_limited', retryAfterSeconds: 30 }, { fail: 'auth' });
    const first = await call([target('a')]);
    expect(statuses(first.attempts)).toEqual(['a:rate_limited', 'a:auth', 'a:ok']);
    const calls = fake('a').upstream.calls;
    expect(calls.map(keyOf)).toEqual(['Bearer sk-a-1', 'Bearer sk-a-2', 'Bearer sk-a-3']);
    // Key 1 rests for 30 s, key 2 is out: only key 3 is used now.
    await call([target('a')]);
    await call([target('a')]);
    expect(calls.slice(3).map(keyOf)).toEqual(['Bearer sk-a-3', 'Bearer sk-a-3']);
  });

  it('opens a target’s circuit after consecutive failures and skips it for the next target', async () => {
    const { call, fake, deps } = await setup(
      { a: ['sk-a-1'], b: ['sk-b-1'] },
      { attempts: 1 },
      { failures: 2, halfOpenAfterMs: 60_000 },
    );
    fake('a').next({ fail: 'server' }, { fail: 'server' });
    await call([target('a'), target('b')]);
    expect(deps.breakers.isOpen(target('a'))).toBe(false);
    await call([target('a'), target('b')]);
    expect(deps.breakers.isOpen(target('a'))).toBe(true);
    expect(deps.breakers.stateOf('a')).toBe('open');
    const { result, attempts } = await call([target('a'), target('b')]);
    expect(result).toBeDefined();
    expect(statuses(attempts)).toEqual(['a:circuit_open', 'b:ok']);
    expect(fake('a').upstream.calls).toHaveLength(2);
  });

  it("waits the upstream's retry-after when the deadline leaves room for it", async () => {
    const { call, fake } = await setup({ a: ['sk-a-1'] }, { attempts: 2 });
    fake('a').next({ fail: 'rate_limited', retryAfterSeconds: 1 });
    const started = performance.now();
    const { result, attempts } = await call([target('a')]);
    expect(result?.content).toBe('hi');
    expect(statuses(attempts)).toEqual(['a:rate_limited', 'a:ok']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('does not wait a retry-after that would outlast the deadline: the next target is tried', async () => {
    const { call, fake } = await setup(
      { a: ['sk-a-1'], b: ['sk-b-1'] },
      { attempts: 2, deadlineMs: 1000 },
    );
    fake('a').next({ fail: 'rate_limited', retryAfterSeconds: 2 });
    const started = performance.now();
    const { result, attempts } = await call([target('a'), target('b')]);
    expect(result?.content).toBe('hi');
    expect(statuses(attempts)).toEqual(['a:rate_limited', 'b:ok']);
    // Not held for the 2 s asked (the deadline is 1 s); generous for a loaded machine.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(fake('a').upstream.calls).toHaveLength(1);
  });

  it('ends with UPSTREAM_TIMEOUT at the deadline when the tries themselves outlast it', async () => {
    const { call, fake } = await setup({ a: ['sk-a-1'] }, { attempts: 5, deadlineMs: 400 });
    fake('a').next({ fail: 'hang' });
    const { error, attempts } = await call([target('a')]);
    expect(error?.code).toBe('UPSTREAM_TIMEOUT');
    expect(statuses(attempts)).toEqual(['a:timeout']);
  });

  it('does not retry a retry-after longer than the longest delay it would wait', async () => {
    const { call, fake } = await setup({ a: ['sk-a-1'] }, { attempts: 3, maxDelayMs: 500 });
    fake('a').next({ fail: 'rate_limited', retryAfterSeconds: 5 });
    const { error, attempts } = await call([target('a')]);
    expect(error?.code).toBe('UPSTREAM_ERROR');
    expect(statuses(attempts)).toEqual(['a:rate_limited']);
  });
});
