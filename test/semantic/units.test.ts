/** The semantic cache's parts on their own: guard, lexical embedder, index, eligibility. */
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gateway/types.js';
import { eligibilityOf } from '../../src/semantic/eligibility.js';
import { guardOf, guardsAgree } from '../../src/semantic/guard.js';
import { lexicalVector } from '../../src/semantic/lexical.js';
import { scopeKeyOf } from '../../src/semantic/semantic-cache.js';
import { scopeOf } from '../../src/semantic/store.js';
import { createLexicalEmbedder } from '../../src/semantic/lexical.js';
import { ScopeIndex } from '../../src/semantic/vector-index.js';

const agree = (a: string, b: string) => guardsAgree(guardOf(a), guardOf(b));
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);

describe('guard', () => {
  it('tells numbers apart, however they are written', () => {
    expect(agree('Is 5 mg safe?', 'Is 50 mg safe?')).toBe(false);
    expect(agree('Is 5mg safe?', 'is 5 mg safe')).toBe(true);
    expect(agree('How much is 1,000 dollars?', 'How much is 1000 dollars?')).toBe(true);
    expect(agree('Version 3.2?', 'Version 3.12?')).toBe(false);
    expect(agree('two nights', 'three nights')).toBe(false);
  });

  it('tells negations and opposites apart', () => {
    expect(agree('Can I take it?', "Can't I take it?")).toBe(false);
    expect(agree('Can I take it?', 'Can I not take it?')).toBe(false);
    expect(agree('How do I turn on 2FA?', 'How do I turn off 2FA?')).toBe(false);
    expect(agree('Convert Celsius to Fahrenheit', 'Convert Fahrenheit to Celsius')).toBe(false);
    // A word without its opposite in the other prompt is no conflict.
    expect(agree('Install Python on Windows', 'Install Python for Windows')).toBe(true);
  });
});

describe('lexical embedder', () => {
  it('sees through case, spacing, punctuation and word order, not other words', () => {
    const base = lexicalVector('What is the capital of France?');
    expect(cosine(base, lexicalVector('  what IS the capital of france'))).toBeCloseTo(1, 5);
    expect(cosine(base, lexicalVector('France: what is the capital?'))).toBeGreaterThan(0.95);
    expect(cosine(base, lexicalVector('Which city is the seat of government?'))).toBeLessThan(0.5);
    expect(cosine(base, base)).toBeCloseTo(1, 5);
  });
});

describe('ScopeIndex', () => {
  const entry = (id: string, expiresAt = Infinity) => ({
    id,
    guard: guardOf(id),
    expiresAt,
    answer: undefined,
  });

  it('finds the nearest entry above the threshold, and counts a guarded one', () => {
    const index = new ScopeIndex(512, 10);
    index.add(lexicalVector('Is 5 mg safe?'), entry('Is 5 mg safe?'));
    const near = index.search(lexicalVector('is 5 mg safe'), 0.9, guardOf('is 5 mg safe'), 0);
    expect(near.match?.entry.id).toBe('Is 5 mg safe?');
    const other = index.search(lexicalVector('Is 50 mg safe?'), 0.5, guardOf('Is 50 mg safe?'), 0);
    expect(other).toEqual({ match: undefined, guarded: true });
  });

  it('drops the least recently used entry when full, and expired entries when met', () => {
    const index = new ScopeIndex(512, 3);
    for (const id of ['alpha question', 'beta question', 'gamma question'])
      index.add(lexicalVector(id), entry(id));
    index.touch('alpha question');
    index.add(lexicalVector('delta question'), entry('delta question'));
    expect(index.has('beta question')).toBe(false);
    expect(index.has('alpha question')).toBe(true);
    expect(index.size).toBe(3);

    index.add(lexicalVector('short lived'), entry('short lived', 100));
    const expired = index.search(lexicalVector('short lived'), 0.9, guardOf('short lived'), 100);
    expect(expired.match).toBeUndefined();
    expect(index.has('short lived')).toBe(false);
  });

  it('keeps the rest findable after a removal moves the last entry', () => {
    const index = new ScopeIndex(512, 10);
    for (const id of ['one apple', 'two pears', 'three plums'])
      index.add(lexicalVector(id), entry(id));
    expect(index.remove('one apple')).toBe(true);
    const found = index.search(lexicalVector('three plums'), 0.99, guardOf('three plums'), 0);
    expect(found.match?.entry.id).toBe('three plums');
  });
});

describe('eligibility', () => {
  const request = (messages: ChatRequest['messages'], extra: Partial<ChatRequest> = {}) =>
    eligibilityOf({ model: 'm', messages, cache: 'DEFAULT', ...extra }, 100);

  it('takes one user question after optional system messages', () => {
    expect(
      request([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi?' },
      ]),
    ).toEqual({ prompt: 'Hi?', system: 'Be brief.\u0000' });
  });

  it('refuses later turns, tools, images and prompts too long to embed whole', () => {
    const turns = request([
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
    ]);
    expect(turns).toEqual({ reason: 'user turn' });
    expect(request([{ role: 'user', content: 'x' }], { tools: [{ name: 't' }] })).toEqual({
      reason: 'tools',
    });
    const image = request([
      {
        role: 'user',
        content: 'What is this?',
        parts: [
          { type: 'text', text: 'What is this?' },
          { type: 'image', source: { kind: 'url', url: 'https://example.com/a.png' } },
        ],
      },
    ]);
    expect(image).toEqual({ reason: 'image' });
    expect(request([{ role: 'user', content: 'x'.repeat(101) }])).toHaveProperty('reason');
  });
});

describe('entry ids', () => {
  it('name their scope, and nothing else passes for one', () => {
    expect(scopeOf('chat:abc123:xyz')).toBe('chat:abc123');
    expect(scopeOf('chat:*')).toBeUndefined();
    expect(scopeOf('nonsense')).toBeUndefined();
  });
});

describe('scopes', () => {
  const caller = { clientId: 'app' } as Parameters<typeof scopeKeyOf>[1];
  const target = { provider: 'up', model: 'gpt-4o-mini' } as Parameters<typeof scopeKeyOf>[2];
  const lexical = createLexicalEmbedder();
  const base: ChatRequest = {
    model: 'chat',
    messages: [{ role: 'user', content: 'Hi?' }],
    cache: 'DEFAULT',
  };
  const key = (request: Partial<ChatRequest>, embedder = lexical, dimension = 512) =>
    scopeKeyOf({ ...base, ...request }, caller, target, '', embedder, dimension);

  it('part by JSON output, embedder and dimension; name the model as called', () => {
    expect(key({})).toBe(key({}));
    expect(key({})).toMatch(/^chat:/);
    expect(key({ responseFormat: { type: 'json_object' } })).not.toBe(key({}));
    expect(key({}, { ...lexical, id: 'provider:emb/other' })).not.toBe(key({}));
    expect(key({}, lexical, 1536)).not.toBe(key({}));
    // The semantic cache's own controls are not part of a scope.
    expect(key({ cacheOptions: { minSimilarity: 0.99, noStore: true } })).toBe(key({}));
  });
});
