/**
 * What a request cost: a built-in price table for the main models of OpenAI, Anthropic, Gemini
 * and Mistral, extended and overridden by the config's `pricing`. A model nobody priced costs 0
 * and is reported unpriced: we never guess.
 */
import type { Price } from '../config/schema.js';
import type { Usage } from '../gateway/types.js';

export type { Price };

/**
 * When and where the built-in prices were read. Prices move: re-read the providers' pages and
 * override in `pricing:` rather than trust this table blindly.
 */
export const PRICES_READ = {
  date: '2026-07-24',
  source:
    "LiteLLM's model_prices_and_context_window.json (mirror RoCry/llm-api-price @ 8442b93), " +
    'cross-checked against the official pricing pages; see PROVIDERS.md section 5',
} as const;

/** USD per million tokens. */
const p = (input: number, output: number, cachedInput?: number): Price =>
  cachedInput === undefined ? { input, output } : { input, output, cachedInput };

/**
 * Keyed by upstream model id. A dated snapshot finds its base entry (see `findBuiltIn`).
 * Not modelled: Anthropic cache writes, long-prompt tiers (Gemini 2.5 Pro, 3 Pro and Claude Sonnet
 * above 200k input tokens), batch discounts and OpenAI service tiers.
 */
export const BUILT_IN_PRICES: Readonly<Record<string, Price>> = {
  // OpenAI
  'gpt-4o': p(2.5, 10, 1.25),
  'gpt-4o-2024-05-13': p(5, 15),
  'gpt-4o-mini': p(0.15, 0.6, 0.075),
  'gpt-4.1': p(2, 8, 0.5),
  'gpt-4.1-mini': p(0.4, 1.6, 0.1),
  'gpt-4.1-nano': p(0.1, 0.4, 0.025),
  o1: p(15, 60, 7.5),
  o3: p(2, 8, 0.5),
  'o3-mini': p(1.1, 4.4, 0.55),
  'o3-pro': p(20, 80),
  'o4-mini': p(1.1, 4.4, 0.275),
  'gpt-5': p(1.25, 10, 0.125),
  'gpt-5.1': p(1.25, 10, 0.125),
  'gpt-5-mini': p(0.25, 2, 0.025),
  'gpt-5-nano': p(0.05, 0.4, 0.005),
  'gpt-5.2': p(1.75, 14, 0.175),
  'gpt-5.4': p(2.5, 15, 0.25),
  'gpt-5.5': p(5, 30, 0.5),
  'text-embedding-3-small': p(0.02, 0),
  'text-embedding-3-large': p(0.13, 0),
  'text-embedding-ada-002': p(0.1, 0),
  // Anthropic (cachedInput is the cache-read price)
  'claude-opus-4-7': p(5, 25, 0.5),
  'claude-opus-4-6': p(5, 25, 0.5),
  'claude-opus-4-5': p(5, 25, 0.5),
  'claude-opus-4-1': p(15, 75, 1.5),
  'claude-opus-4': p(15, 75, 1.5),
  'claude-sonnet-4-6': p(3, 15, 0.3),
  'claude-sonnet-4-5': p(3, 15, 0.3),
  'claude-sonnet-4': p(3, 15, 0.3),
  'claude-3-7-sonnet': p(3, 15, 0.3),
  'claude-haiku-4-5': p(1, 5, 0.1),
  'claude-3-haiku-20240307': p(0.25, 1.25, 0.03),
  // Gemini
  'gemini-2.0-flash': p(0.1, 0.4, 0.025),
  'gemini-2.0-flash-lite': p(0.075, 0.3, 0.01875),
  'gemini-2.5-flash': p(0.3, 2.5, 0.03),
  'gemini-2.5-flash-lite': p(0.1, 0.4, 0.01),
  'gemini-2.5-pro': p(1.25, 10, 0.125),
  'gemini-3-pro-preview': p(2, 12, 0.2),
  'gemini-3.1-pro-preview': p(2, 12, 0.2),
  'gemini-3-flash-preview': p(0.5, 3, 0.05),
  'gemini-embedding-001': p(0.15, 0),
  // Mistral (no cached-input prices published)
  'mistral-large-latest': p(0.5, 1.5),
  'mistral-large-2512': p(0.5, 1.5),
  'mistral-large-2411': p(2, 6),
  'mistral-medium-latest': p(1.5, 7.5),
  'mistral-medium-2505': p(0.4, 2),
  'mistral-medium-2508': p(0.4, 2),
  'mistral-small-latest': p(0.06, 0.18),
  'magistral-medium-latest': p(2, 5),
  'codestral-latest': p(1, 3),
  'ministral-8b-latest': p(0.15, 0.15),
  'mistral-embed': p(0.1, 0),
  'codestral-embed': p(0.15, 0),
};

/**
 * What may follow a base id to name one of its snapshots: `-2024-07-18`, `-20251001`, `-0613`,
 * `-001`, `-latest`. Anything else (`-mini`, `-audio-preview`, `-8`) is another model.
 */
const snapshotSuffix = /^-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|latest)$/;

/**
 * Model ids already looked up. A dated id (`gpt-4o-mini-2024-07-18`, what OpenAI answers with)
 * is matched against every base id (~0.5 µs), on every answer: remembered instead. Bounded, as
 * the ids come from upstream answers.
 */
const found = new Map<string, Price | undefined>();
const maxFound = 1_000;

/** The entry for an upstream model id: exact, else the longest base id it is a snapshot of. */
export function findBuiltIn(model: string): Price | undefined {
  if (found.has(model)) return found.get(model);
  if (found.size >= maxFound) found.clear();
  const price = matchBuiltIn(model);
  found.set(model, price);
  return price;
}

function matchBuiltIn(model: string): Price | undefined {
  const id = model.startsWith('models/') ? model.slice('models/'.length) : model;
  const exact = BUILT_IN_PRICES[id];
  if (exact) return exact;
  let best: string | undefined;
  for (const base of Object.keys(BUILT_IN_PRICES)) {
    if (!id.startsWith(base) || !snapshotSuffix.test(id.slice(base.length))) continue;
    if (best === undefined || base.length > best.length) best = base;
  }
  return best === undefined ? undefined : BUILT_IN_PRICES[best];
}

export interface Pricing {
  /**
   * The price of a call: the config's `provider/model` (the model asked) first, then the built-in
   * entry of the upstream model that answered, then that of the model asked.
   */
  lookup(provider: string, model: string, upstreamModel?: string): Price | undefined;
  /** Cost in USD; `priced: false` (and 0) when no price is known. */
  cost(
    usage: Usage,
    provider: string,
    model: string,
    upstreamModel?: string,
  ): { costUsd: number; priced: boolean };
}

/** USD for `usage` at `price`. `promptTokens` includes the cached ones. */
export function costOf(usage: Usage, price: Price): number {
  const cached = Math.min(Math.max(usage.cachedPromptTokens, 0), usage.promptTokens);
  const fresh = usage.promptTokens - cached;
  return (
    (fresh * price.input +
      cached * (price.cachedInput ?? price.input) +
      usage.completionTokens * price.output) /
    1e6
  );
}

/** @param overrides the config's `pricing`, keyed `provider/model` (the configured provider's name). */
export function createPricing(overrides: Readonly<Record<string, Price>>): Pricing {
  const configured = new Map(Object.entries(overrides));
  const lookup: Pricing['lookup'] = (provider, model, upstreamModel) =>
    configured.get(`${provider}/${model}`) ??
    (upstreamModel === undefined ? undefined : configured.get(`${provider}/${upstreamModel}`)) ??
    (upstreamModel === undefined ? undefined : findBuiltIn(upstreamModel)) ??
    findBuiltIn(model);
  return {
    lookup,
    cost(usage, provider, model, upstreamModel) {
      const price = lookup(provider, model, upstreamModel);
      return price
        ? { costUsd: costOf(usage, price), priced: true }
        : { costUsd: 0, priced: false };
    },
  };
}
