/**
 * Step 4: the model as called (an alias, or `provider/model`) → the targets to try, in order.
 * Strategies beyond fallback, and circuit breakers, come with the traffic-control work.
 */
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
  /** Every alias and `provider/model` a caller may call (`provider/*` when a provider lists no models). */
  names(caller: Caller): string[];
}

export function createRouter(config: Config, providers: ReadonlyMap<string, Provider>): Router {
  const aliases = new Map<string, Route>(
    Object.entries(config.models).map(([alias, route]) => [
      alias,
      { alias, strategy: route.strategy, targets: route.targets.map((t) => ({ ...t })) },
    ]),
  );
  const direct = new Map<string, Route>();

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

    names(caller) {
      const names = [...aliases.keys()];
      for (const provider of providers.values()) {
        if (provider.models.length === 0) names.push(`${provider.name}/*`);
        for (const model of provider.models) names.push(`${provider.name}/${model}`);
      }
      return names.filter((name) => name.endsWith('/*') || mayUseModel(caller, name));
    },
  };

  function directRoute(model: string): Route {
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
