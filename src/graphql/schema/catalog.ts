/** Provider, ModelRoute and Client; the providers, models and viewer queries; invalidateCache. */
import type { ClientInfo } from '../../auth.js';
import { ErrorCodes, GatewayError } from '../../gateway/errors.js';
import type { Target } from '../../gateway/types.js';
import type { ProviderStatus } from '../../services.js';
import { builder } from '../builder.js';

export const ProviderRef = builder.objectRef<ProviderStatus>('Provider').implement({
  description: 'A configured upstream. Its keys are never shown, only counted.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type', {
      description: 'openai | anthropic | gemini | mistral | openai-compatible | echo',
    }),
    models: t.exposeStringList('models', {
      description: 'What it offers, as configured (empty: any).',
    }),
    keys: t.exposeInt('keys', { description: 'How many keys its pool holds.' }),
    availableKeys: t.exposeInt('availableKeys', {
      description: 'Keys neither cooling down nor disabled.',
    }),
    healthy: t.exposeBoolean('healthy', {
      description: 'False while its circuit is open or no key is available.',
    }),
    circuit: t.exposeString('circuit', { description: 'closed | open | half-open' }),
  }),
});

const TargetRef = builder.objectRef<Target>('ModelTarget').implement({
  fields: (t) => ({
    provider: t.exposeString('provider'),
    model: t.exposeString('model'),
    weight: t.exposeFloat('weight'),
  }),
});

const StrategyEnum = builder.enumType('Strategy', {
  values: {
    FALLBACK: { value: 'fallback' },
    LOADBALANCE: { value: 'loadbalance' },
    LATENCY: { value: 'latency' },
    COST: { value: 'cost' },
  },
});

interface ModelRouteShape {
  alias: string;
  strategy: 'fallback' | 'loadbalance' | 'latency' | 'cost';
  targets: Target[];
}

const ModelRouteRef = builder.objectRef<ModelRouteShape>('ModelRoute').implement({
  fields: (t) => ({
    alias: t.exposeString('alias'),
    strategy: t.field({ type: StrategyEnum, resolve: (r) => r.strategy }),
    targets: t.field({ type: [TargetRef], resolve: (r) => r.targets }),
  }),
});

export const BudgetPeriodEnum = builder.enumType('BudgetPeriod', {
  values: { DAY: { value: 'day' }, WEEK: { value: 'week' }, MONTH: { value: 'month' } },
});

export const ClientRef = builder.objectRef<ClientInfo>('Client').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    admin: t.exposeBoolean('admin'),
    models: t.stringList({
      nullable: true,
      description: 'Allowed aliases and provider/model globs; null: all.',
      resolve: (c) => (c.models ? [...c.models] : null),
    }),
    budget: t.float({
      nullable: true,
      description: 'USD per budget period; null: no budget.',
      resolve: (c) => c.budget?.usd ?? null,
    }),
    budgetPeriod: t.field({
      type: BudgetPeriodEnum,
      nullable: true,
      resolve: (c) => c.budget?.period ?? null,
    }),
    spentUsd: t.float({
      description: 'Spent in the current budget period (this month when there is no budget).',
      resolve: (c, _, { services }) => services.spentUsd(c.id),
    }),
  }),
});

builder.queryField('providers', (t) =>
  t.field({ type: [ProviderRef], resolve: (_, __, { services }) => services.providerStatuses() }),
);

builder.queryField('models', (t) =>
  t.field({
    type: [ModelRouteRef],
    description:
      'What this caller may call by name: the aliases, then each provider/model a provider lists (as a route of one target).',
    resolve: (_, __, { services, caller }) => services.modelRoutes(caller),
  }),
);

builder.queryField('viewer', (t) =>
  t.field({
    type: ClientRef,
    description: 'The calling client.',
    resolve: (_, __, { services, caller }) => {
      const client = services.auth.client(caller.clientId);
      if (!client) throw new GatewayError(ErrorCodes.UNAUTHENTICATED, 'unknown client');
      return client;
    },
  }),
);

builder.mutationField('invalidateCache', (t) =>
  t.int({
    description:
      'Admin only: drops cached answers (of one model as called, or all); returns how many.',
    args: { model: t.arg.string() },
    resolve: (_, { model }, { services, caller }) => {
      if (!caller.admin)
        throw new GatewayError(ErrorCodes.FORBIDDEN, 'invalidateCache is for admins');
      return services.invalidateCache(model ?? undefined);
    },
  }),
);
