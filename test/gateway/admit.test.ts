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
