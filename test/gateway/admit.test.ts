/**
 * Admission over the in-memory stores (the real limiter and spend counters, no Redis): the
 * answer's ceiling a budget pays for comes back with the admission, and admission and
 * settlement stay synchronous (`state/maybe.ts`), with no promise made on the hot path.
 */
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth.js';
import { parseConfig } from '../../src/config/load.js';
import { createAdmitter } from '../../src/gateway/admit.js';
import type { ChatRequest } from '../../src/gateway/types.js';
import { createLimiter } from '../../src/state/limits.js';
import { createSpendCounters } from '../../src/state/spend.js';
import { estimatePromptTokens } from '../../src/usage/tokens.js';

const messages = [{ role: 'user' as const, content: 'hello there' }];
const prompt = estimatePromptTokens(messages);
const caller = { clientId: 'capped', admin: false };
const targets = [
  { provider: 'up', model: 'cheap', weight: 1 },
  { provider: 'up', model: 'dear', weight: 1 },
];
/** USD per token: the fallback target costs twice as much per answer token. */
const prices: Record<string, { input: number; output: number }> = {
  cheap: { input: 0.001, output: 0.001 },
  dear: { input: 0.001, output: 0.002 },
};

function admitter() {
  const config = parseConfig(
    {
      providers: { up: { type: 'echo' } },
      clients: [
        {
          id: 'capped',
          key: 'key-capped',
          budget: { usd: 1, period: 'day', maxTokens: 300 },
          rateLimits: [{ tokens: 100_000, perSeconds: 60 }],
        },
      ],
    },
    {},
  );
  const auth = createAuthenticator(config.clients);
  return createAdmitter({
    config,
    clients: (id) => auth.client(id),
    createLimiter: (prefix, limits) => createLimiter({ prefix, limits }),
    spend: createSpendCounters(),
    price: (target) => prices[target.model],
    onBudgetAlert: () => {},
  });
}

const request = (maxTokens?: number): ChatRequest => ({
  model: 'up/cheap',
  messages,
  cache: 'BYPASS',
  ...(maxTokens !== undefined && { maxTokens }),
});

describe('admission under a budget, in memory', () => {
  it('hands back the ceiling the budget pays for, at the dearest target, with no promise', () => {
    const admit = admitter();
    const first = admit.admit(request(), caller, targets);
    expect(first).not.toBeInstanceOf(Promise);
    if (first instanceof Promise) return;
    // No maxTokens asked: the budget's own ceiling.
    expect(first.maxTokens).toBe(300);
    // $1 less the first reservation, at $0.002 a token (the fallback's price), and the prompt.
    const room = 1 - (prompt * 0.001 + 300 * 0.002);
    const second = admit.admit(request(5000), caller, targets);
    if (second instanceof Promise) throw new Error('admission made a promise');
    expect(second.maxTokens).toBe(Math.floor((room - prompt * 0.001) / 0.002 + 1e-9));
    expect(() => admit.admit(request(), caller, targets)).toThrow(/daily budget/);

    // Settled with what the first really cost, the room comes back, and at once.
    expect(first.settle({ tokens: prompt + 10, costUsd: 0.02 })).toBeUndefined();
    const third = admit.admit(request(100), caller, targets);
    if (third instanceof Promise) throw new Error('admission made a promise');
    expect(third.maxTokens).toBe(100);
  });
});

function admitterOf(raw: Record<string, unknown>, price = { input: 0.001, output: 0.001 }) {
  const config = parseConfig({ providers: { up: { type: 'echo' } }, ...raw }, {});
  const auth = createAuthenticator(config.clients);
  const alerts: { threshold: number; spentUsd: number }[] = [];
  const admitter = createAdmitter({
    config,
    clients: (id) => auth.client(id),
    createLimiter: (prefix, limits) => createLimiter({ prefix, limits }),
    spend: createSpendCounters(),
    price: () => price,
    onBudgetAlert: (alert) => alerts.push(alert),
  });
  /** Admission that must not make a promise (every store here is in memory). */
  const admit = (req: ChatRequest, who = caller) => {
    const admitted = admitter.admit(req, who, targets);
    if (admitted instanceof Promise) throw new Error('admission made a promise');
    return admitted;
  };
  return { admitter, admit, alerts };
}

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error as Error & { code: string; details: Record<string, unknown> };
  }
  throw new Error('expected a refusal');
};

describe('admission: rate limits', () => {
  it('refuses past a request limit with RATE_LIMITED and the wait, per client', () => {
    const { admit } = admitterOf({
      clients: [
        { id: 'capped', key: 'key-capped', rateLimits: [{ requests: 2, perSeconds: 60 }] },
        { id: 'other', key: 'key-other' },
      ],
    });
    admit(request());
    admit(request());
    const error = refusal(() => admit(request()));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.message).toMatch(/2 requests per 60 s/);
    expect(error.details.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Another client has its own (no) limits.
    admit(request(), { clientId: 'other', admin: false });
  });

  it('gives a refused request back to the limits it had already passed', () => {
    const { admit } = admitterOf({
      rateLimits: { global: [{ requests: 2, perSeconds: 60 }] },
      clients: [
        { id: 'capped', key: 'key-capped', rateLimits: [{ requests: 1, perSeconds: 60 }] },
        { id: 'other', key: 'key-other' },
      ],
    });
    admit(request());
    // Refused by its client's limit, checked first: the global window is not touched.
    expect(refusal(() => admit(request())).code).toBe('RATE_LIMITED');
    admit(request(), { clientId: 'other', admin: false });
    expect(refusal(() => admit(request(), { clientId: 'other', admin: false })).message).toMatch(
      /2 requests per 60 s/,
    );
  });

  it('refuses with BAD_USER_INPUT, naming the field, what no token window could ever hold', () => {
    const { admit } = admitterOf({
      clients: [{ id: 'capped', key: 'key-capped', rateLimits: [{ tokens: 50, perSeconds: 60 }] }],
    });
    const tooLong = refusal(() => admit(request(1000)));
    expect(tooLong).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'maxTokens' } });
    const huge = [{ role: 'user' as const, content: 'word '.repeat(500) }];
    const prompt = refusal(() => admit({ ...request(), messages: huge }));
    expect(prompt).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'messages' } });
  });

  it('reserves a token estimate and settles with the real count, freeing the window', () => {
    const { admit } = admitterOf({
      clients: [{ id: 'capped', key: 'key-capped', rateLimits: [{ tokens: 100, perSeconds: 60 }] }],
    });
    const first = admit(request(80));
    expect(refusal(() => admit(request(80))).code).toBe('RATE_LIMITED');
    first.settle({ tokens: prompt + 2, costUsd: 0 });
    admit(request(80));
  });

  it('admits at once, with nothing to settle, a caller no limit or budget applies to', () => {
    const { admit } = admitterOf({ clients: [{ id: 'free', key: 'key-free' }] });
    const admission = admit(request(), { clientId: 'free', admin: false });
    expect(admission.maxTokens).toBeUndefined();
    expect(admission.settle({ tokens: 1, costUsd: 1 })).toBeUndefined();
  });
});

describe('admission: budgets', () => {
  it('refuses a spent budget with BUDGET_EXCEEDED, alerting each threshold once', () => {
    const { admit, admitter, alerts } = admitterOf({
      clients: [
        {
          id: 'capped',
          key: 'key-capped',
          budget: { usd: 0.1, period: 'day', alertAt: [0.5, 1], maxTokens: 20 },
        },
      ],
    });
    admit(request(20)).settle({ tokens: 30, costUsd: 0.06 });
    expect(alerts.map((a) => a.threshold)).toEqual([0.5]);
    admit(request(20)).settle({ tokens: 30, costUsd: 0.04 });
    expect(alerts.map((a) => a.threshold)).toEqual([0.5, 1]);
    expect(admitter.spent('capped')).toBeCloseTo(0.1, 9);
    const error = refusal(() => admit(request(20)));
    expect(error.code).toBe('BUDGET_EXCEEDED');
    expect(error.message).toMatch(/daily budget of client "capped" \(\$0.1\) is spent/);
    expect(error.details).toMatchObject({ budgetUsd: 0.1 });
    expect(alerts).toHaveLength(2);
  });

  it('reserves only the prompt of a request that asks for no answer tokens (an embedding)', () => {
    const { admit, admitter } = admitterOf({
      clients: [{ id: 'capped', key: 'key-capped', budget: { usd: 1, period: 'day' } }],
    });
    const admission = admit(request(0));
    expect(admission.maxTokens).toBe(0);
    // Only the prompt's estimate is held until settled.
    expect(admitter.spent('capped')).toBeCloseTo(prompt * 0.001, 9);
    admission.settle({ tokens: 3, costUsd: 0.003 });
    expect(admitter.spent('capped')).toBeCloseTo(0.003, 9);
  });
});
