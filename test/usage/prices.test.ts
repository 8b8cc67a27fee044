import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/gateway/types.js';
import {
  BUILT_IN_PRICES,
  PRICES_READ,
  createPricing,
  findBuiltIn,
} from '../../src/usage/prices.js';

const usage = (promptTokens: number, completionTokens: number, cachedPromptTokens = 0): Usage => ({
  promptTokens,
  completionTokens,
  totalTokens: promptTokens + completionTokens,
  cachedPromptTokens,
  estimated: false,
});

describe('built-in prices', () => {
  it('says when and where they were read', () => {
    expect(PRICES_READ.date).toBe('2026-07-24');
    expect(PRICES_READ.source).toMatch(/LiteLLM/);
  });

  it('covers the main models of each provider', () => {
    for (const model of [
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-5',
      'o3',
      'claude-sonnet-4-5',
      'claude-haiku-4-5',
    ]) {
      expect(BUILT_IN_PRICES[model], model).toBeDefined();
    }
    for (const model of [
      'gemini-2.5-flash',
      'gemini-2.5-pro',
      'mistral-large-latest',
      'mistral-small-latest',
    ]) {
      expect(BUILT_IN_PRICES[model], model).toBeDefined();
    }
  });

  it('finds the base entry of a dated snapshot', () => {
    expect(findBuiltIn('gpt-4o-mini-2024-07-18')).toEqual({
      input: 0.15,
      output: 0.6,
      cachedInput: 0.075,
    });
    expect(findBuiltIn('gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10, cachedInput: 1.25 });
    expect(findBuiltIn('claude-haiku-4-5-20251001')).toEqual({
      input: 1,
      output: 5,
      cachedInput: 0.1,
    });
    expect(findBuiltIn('claude-opus-4-1-20250805')?.input).toBe(15);
    expect(findBuiltIn('claude-opus-4-20250514')?.input).toBe(15);
    expect(findBuiltIn('claude-3-7-sonnet-latest')?.input).toBe(3);
    expect(findBuiltIn('gemini-2.0-flash-001')?.input).toBe(0.1);
    expect(findBuiltIn('models/gemini-2.5-flash')?.output).toBe(2.5);
  });

  it('prefers an exact snapshot entry to its base', () => {
    expect(findBuiltIn('gpt-4o-2024-05-13')).toEqual({ input: 5, output: 15 });
  });

  it('never lets a base price a different model', () => {
    expect(findBuiltIn('gpt-4o-mini')?.input).toBe(0.15);
    expect(findBuiltIn('gpt-4o-audio-preview')).toBeUndefined();
    expect(findBuiltIn('gpt-5.3')).toBeUndefined();
    expect(findBuiltIn('o1-mini')).toBeUndefined();
    expect(findBuiltIn('claude-opus-4-8')).toBeUndefined();
    expect(findBuiltIn('gpt-4o-mini-search-preview')).toBeUndefined();
  });
});

describe('createPricing', () => {
  it('prices by the upstream model first, then by the model asked', () => {
    const pricing = createPricing({});
    // Mistral repoints -latest: the resolved id in the answer is what is billed.
    expect(pricing.lookup('mistral', 'mistral-large-latest', 'mistral-large-2411')?.input).toBe(2);
    expect(pricing.lookup('mistral', 'mistral-large-latest', 'some-unknown-id')?.input).toBe(0.5);
    expect(pricing.lookup('openai', 'gpt-4o')?.input).toBe(2.5);
  });

  it('lets the config override and extend the table by provider/model', () => {
    const pricing = createPricing({
      'openai/gpt-4o': { input: 1, output: 2 },
      'local/llama3': { input: 0.01, output: 0.02, cachedInput: 0 },
    });
    expect(pricing.lookup('openai', 'gpt-4o', 'gpt-4o-2024-08-06')).toEqual({
      input: 1,
      output: 2,
    });
    expect(pricing.lookup('azure', 'gpt-4o')?.input).toBe(2.5);
    expect(pricing.lookup('local', 'llama3')).toEqual({
      input: 0.01,
      output: 0.02,
      cachedInput: 0,
    });
    expect(pricing.lookup('other', 'llama3')).toBeUndefined();
  });

  it('charges cached prompt tokens at the cached price and the rest at the input price', () => {
    const pricing = createPricing({});
    // gpt-4o: 2.50 in, 1.25 cached, 10 out per million.
    const { costUsd, priced } = pricing.cost(
      usage(1_000_000, 100_000, 400_000),
      'openai',
      'gpt-4o',
    );
    expect(priced).toBe(true);
    expect(costUsd).toBeCloseTo(600_000 * 2.5e-6 + 400_000 * 1.25e-6 + 100_000 * 10e-6, 12);
  });

  it('charges cached tokens at the input price when no cached price is known', () => {
    const pricing = createPricing({});
    const { costUsd } = pricing.cost(usage(1000, 1000, 500), 'mistral', 'mistral-small-latest');
    expect(costUsd).toBeCloseTo((1000 * 0.06 + 1000 * 0.18) / 1e6, 15);
  });

  it('returns 0 and priced false for a model nobody priced', () => {
    const pricing = createPricing({ 'openai/gpt-4o': { input: 1, output: 1 } });
    expect(pricing.cost(usage(1000, 1000), 'ollama', 'llama3', 'llama3:8b')).toEqual({
      costUsd: 0,
      priced: false,
    });
  });

  it('does not count more cached tokens than prompt tokens', () => {
    const pricing = createPricing({ 'x/y': { input: 1, output: 0, cachedInput: 0 } });
    expect(pricing.cost(usage(10, 0, 50), 'x', 'y').costUsd).toBe(0);
    expect(pricing.cost(usage(10, 0, 0), 'x', 'y').costUsd).toBeCloseTo(10e-6, 15);
  });
});
