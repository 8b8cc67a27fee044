/**
 * Step 4: the model as called (an alias, or `provider/model`) → the targets to try, in order,
 * by the alias's strategy, without those whose circuit is open.
 */
import { LRUCache } from 'lru-cache';
import { mayUseModel } from '../auth.js';
import type { Config } from '../config/schema.js';
import type { Provider } from '../providers/types.js';
import { ErrorCodes, GatewayError, badInput } from './errors.js';
import type { Caller, Target } from './types.js';

export interface Route {
  /** The model as called. */
  alias: string;
  strategy: Config['models'][string]['strategy'];
  targets: Target[];
}

export interface Router {
  resolve(model: string, caller: Caller): Route;
  /** The route's targets in the order to try them now. */
  order(route: Route): Target[];
  /**
   * Every alias and `provider/model` a caller may call by name: the models each provider lists
   * (a provider that lists none offers no name to show; echo's is `echo`), never a glob.
   */
  names(caller: Caller): string[];
}

export interface RouterDeps {
  /** Open circuits are skipped. */
  isOpen(target: Target): boolean;
  /** Recent latency (EWMA, ms) of a target; undefined before its first answer. */
  latency(target: Target): number | undefined;
  /** USD per million tokens (input + output) of a target; undefined when unknown. */
  price(target: Target): number | undefined;
  /** A number in [0, 1) for the loadbalance strategy's draw. @default Math.random */
  random?(): number;
}

/** The models a provider is known to offer by name: its configured ones; echo answers `echo`. */
export function modelsOf(provider: Pick<Provider, 'type' | 'models'>): readonly string[] {
  if (provider.models.length > 0) return provider.models;
  return provider.type === 'echo' ? ['echo'] : [];
}

export function createRouter(
  config: Config,
  providers: ReadonlyMap<string, Provider>,
  deps: RouterDeps,
): Router {
  const aliases = new Map<string, Route>(
    Object.entries(config.models).map(([alias, route]) => [
      alias,
      { alias, strategy: route.strategy, targets: route.targets.map((t) => ({ ...t })) },
    ]),
  );
  const direct = new Map<string, Route>();
  const random = deps.random ?? Math.random;

  return {
    resolve(model, caller) {
      const route = aliases.get(model) ?? direct.get(model) ?? directRoute(model);
      if (!mayUseModel(caller, model)) {
        throw new GatewayError(
          ErrorCodes.FORBIDDEN,
          `client "${caller.clientId}" may not use model "${model}"`,
          {
            field: 'model',
          },
        );
      }
      return route;
    },

    order(route) {
      const open = route.targets.filter((t) => !deps.isOpen(t));
      if (open.length <= 1) return open;
      switch (route.strategy) {
        case 'fallback':
          return open;
        case 'loadbalance':
          return weightedShuffle(open, random);
        case 'latency':
          // A target with no answer yet goes first, so every target gets measured.
          return sortBy(open, (t) => deps.latency(t) ?? -1);
        case 'cost':
          return sortBy(open, (t) => deps.price(t) ?? Number.POSITIVE_INFINITY);
      }
    },

    names(caller) {
      const names = [...aliases.keys()];
      for (const provider of providers.values()) {
        for (const model of modelsOf(provider)) names.push(`${provider.name}/${model}`);
      }
      return names.filter((name) => mayUseModel(caller, name));
    },
  };

  function directRoute(model: string): Route {
    // The name keys the routes, breakers, latencies and prices remembered: no name is a megabyte.
    if (model.length > maxModelName) {
      throw badInput('model', `a model name is at most ${maxModelName} characters`);
    }
    const slash = model.indexOf('/');
    const provider = slash > 0 ? providers.get(model.slice(0, slash)) : undefined;
    const upstreamModel = model.slice(slash + 1);
    if (!provider || !upstreamModel) {
      throw badInput(
        'model',
        `unknown model "${model}": call an alias or provider/model (see the models query)`,
      );
    }
    if (
      provider.models.length > 0 &&
      provider.type !== 'echo' &&
      !provider.models.includes(upstreamModel)
    ) {
      throw badInput('model', `provider "${provider.name}" offers no model "${upstreamModel}"`);
    }
    const route: Route = {
      alias: model,
      strategy: 'fallback',
      targets: [{ provider: provider.name, model: upstreamModel, weight: 1 }],
    };
    if (direct.size < 10_000) direct.set(model, route);
    return route;
  }
}

/** The longest `provider/model` called; aliases are the config's and may be longer. */
export const maxModelName = 256;

/**
 * Targets whose latency is remembered, the least recently observed forgotten first: a provider
 * with no `models` list (echo, openai-compatible) answers any model name a caller makes up.
 */
const maxTracked = 10_000;

/** Stable sort by a numeric key, ascending. */
function sortBy<T>(items: readonly T[], key: (item: T) => number): T[] {
  return items
    .map((item, i) => ({ item, i, k: key(item) }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map(({ item }) => item);
}

/** A random order where heavier targets tend to come first (Efraimidis–Spirakis). */
function weightedShuffle(targets: readonly Target[], random: () => number): Target[] {
  return sortBy(targets, (t) => -(random() ** (1 / t.weight)));
}

/** Recent latency per target, as an exponentially weighted moving average. */
export class LatencyTracker {
  readonly #ewma = new LRUCache<string, number>({ max: maxTracked });

  constructor(private readonly alpha = 0.3) {}

  observe(target: Target, ms: number): void {
    const id = `${target.provider}/${target.model}`;
    const previous = this.#ewma.get(id);
    this.#ewma.set(id, previous === undefined ? ms : previous + this.alpha * (ms - previous));
  }

  latency(target: Target): number | undefined {
    return this.#ewma.get(`${target.provider}/${target.model}`);
  }
}
