/**
 * One Conduit with every provider type behind an alias (`alias-<type>`), each upstream a fake
 * speaking its provider's wire format, for the Responses API tests.
 */
import { createAnthropicFake } from '../fakes/anthropic.js';
import { createGeminiFake } from '../fakes/gemini.js';
import { createMistralFake } from '../fakes/mistral.js';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

export const UPSTREAM_KEY = 'sk-upstream-responses-01';
export const APP_KEY = 'conduit-responses-app';
export const OTHER_KEY = 'conduit-responses-other';

export interface ProviderCase {
  type: string;
  model: string;
  make?: () => Promise<ProviderFake>;
}

export const providerCases: ProviderCase[] = [
  { type: 'openai', model: 'gpt-4o-mini', make: () => createOpenAIFake({ keys: [UPSTREAM_KEY] }) },
  {
    type: 'openai-compatible',
    model: 'llama3.2',
    make: () => createOpenAIFake({ keys: [UPSTREAM_KEY] }),
  },
  {
    type: 'anthropic',
    model: 'claude-haiku-4-5',
    make: () => createAnthropicFake({ keys: [UPSTREAM_KEY] }),
  },
  {
    type: 'gemini',
    model: 'gemini-2.5-flash',
    make: () => createGeminiFake({ keys: [UPSTREAM_KEY] }),
  },
  {
    type: 'mistral',
    model: 'mistral-small-latest',
    make: () => createMistralFake({ keys: [UPSTREAM_KEY] }),
  },
  { type: 'echo', model: 'echo' },
];

export interface ResponsesConduit {
  conduit: TestConduit;
  /** By provider type; echo has none. */
  fakes: Map<string, ProviderFake>;
  /** The request body of a fake's last call, as text (whatever its wire format). */
  lastUpstreamBody(type: string): string;
}

/** Two clients: `app` (APP_KEY) and `other` (OTHER_KEY). `extra` is merged into the config. */
export async function startResponsesConduit(
  extra: Record<string, unknown> = {},
): Promise<ResponsesConduit> {
  const fakes = new Map<string, ProviderFake>();
  const providers: Record<string, unknown> = {};
  const models: Record<string, unknown> = {};
  for (const c of providerCases) {
    const name = `p-${c.type}`;
    if (c.make) {
      const fake = await c.make();
      onDispose(() => fake.close());
      fakes.set(c.type, fake);
      providers[name] = {
        type: c.type,
        baseUrl: fake.baseUrl,
        keys: [UPSTREAM_KEY],
        models: [c.model],
      };
    } else providers[name] = { type: c.type, models: [c.model] };
    models[`alias-${c.type}`] = { targets: [{ provider: name, model: c.model }] };
  }
  const conduit = await startConduit({
    providers,
    models,
    retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
    clients: [
      { id: 'app', key: APP_KEY },
      { id: 'other', key: OTHER_KEY },
    ],
    ...extra,
  });
  return {
    conduit,
    fakes,
    lastUpstreamBody(type) {
      const calls = fakes.get(type)!.upstream.calls;
      return calls[calls.length - 1]!.text;
    },
  };
}
