/** UsageFilter, UsageReport, UsageGroup and the usage query. */
import { badInput, ErrorCodes, GatewayError } from '../../gateway/errors.js';
import { Routes, type Route } from '../../gateway/types.js';
import type { UsageDimension, UsageFilter, UsageGroup, UsageReport } from '../../usage/store.js';
import { builder } from '../builder.js';
import { ClientRef } from './catalog.js';

const routeDescription = `The edge a request came in by: ${Routes.join(', ')}.`;

function toRoute(text: string): Route {
  const route = Routes.find((r) => r === text);
  if (!route) throw badInput('filter.route', `route is one of ${Routes.join(', ')}`);
  return route;
}

const UsageDimensionEnum = builder.enumType('UsageDimension', {
  values: ['CLIENT', 'USER', 'PROVIDER', 'MODEL', 'DAY', 'HOUR', 'ROUTE'] as const,
});

const UsageFilterInput = builder.inputType('UsageFilter', {
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Inclusive.' }),
    to: t.field({ type: 'DateTime', description: 'Exclusive.' }),
    client: t.string({ description: 'A client id; non-admins only ever see their own.' }),
    user: t.string(),
    provider: t.string(),
    model: t.string({ description: 'The upstream model.' }),
    route: t.string({ description: routeDescription }),
  }),
});

type Totals = Omit<UsageReport, 'groups'>;

const UsageTotalsRef = builder.interfaceRef<Totals>('UsageTotals').implement({
  fields: (t) => ({
    requests: t.exposeInt('requests'),
    errors: t.exposeInt('errors'),
    cacheHits: t.exposeInt('cacheHits'),
    semanticHits: t.exposeInt('semanticHits', {
      description: 'Of cacheHits, those the semantic cache found by meaning.',
    }),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    costUsd: t.exposeFloat('costUsd'),
    savedUsd: t.exposeFloat('savedUsd', { description: 'What cache hits saved.' }),
    semanticSavedUsd: t.exposeFloat('semanticSavedUsd', {
      description: 'Of savedUsd, what semantic cache hits saved.',
    }),
    latencyP50Ms: t.exposeFloat('latencyP50Ms', { nullable: true }),
    latencyP95Ms: t.exposeFloat('latencyP95Ms', { nullable: true }),
  }),
});

const UsageGroupRef = builder.objectRef<UsageGroup>('UsageGroup').implement({
  description: 'The totals of one combination of the groupBy values.',
  interfaces: [UsageTotalsRef],
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'hour' in value,
  fields: (t) => ({
    client: t.field({
      type: ClientRef,
      nullable: true,
      resolve: (g, _, { loaders }) =>
        g.clientId === null ? null : loaders.client.load(g.clientId),
    }),
    user: t.exposeString('user', { nullable: true }),
    provider: t.exposeString('provider', { nullable: true }),
    model: t.exposeString('model', { nullable: true }),
    day: t.exposeString('day', { nullable: true, description: 'YYYY-MM-DD (UTC)' }),
    hour: t.exposeString('hour', { nullable: true, description: 'YYYY-MM-DDTHH:00:00Z' }),
    route: t.exposeString('route', { nullable: true, description: routeDescription }),
  }),
});

const UsageReportRef = builder.objectRef<UsageReport>('UsageReport').implement({
  interfaces: [UsageTotalsRef],
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'groups' in value,
  fields: (t) => ({
    groups: t.field({ type: [UsageGroupRef], resolve: (r) => r.groups }),
  }),
});

builder.queryField('usage', (t) =>
  t.field({
    type: UsageReportRef,
    args: {
      filter: t.arg({ type: UsageFilterInput }),
      groupBy: t.arg({ type: [UsageDimensionEnum] }),
    },
    resolve: async (_, { filter, groupBy }, { services, caller }) => {
      const wanted: UsageFilter = {};
      if (filter?.from) wanted.from = filter.from;
      if (filter?.to) wanted.to = filter.to;
      if (filter?.user != null) wanted.user = filter.user;
      if (filter?.provider != null) wanted.provider = filter.provider;
      if (filter?.model != null) wanted.model = filter.model;
      if (filter?.route != null) wanted.route = toRoute(filter.route);
      if (caller.admin) {
        if (filter?.client != null) wanted.clientId = filter.client;
      } else {
        if (filter?.client != null && filter.client !== caller.clientId) {
          throw new GatewayError(
            ErrorCodes.FORBIDDEN,
            'only admins see the usage of other clients',
          );
        }
        wanted.clientId = caller.clientId;
        // A token's bearer is one end user of the client: its own usage only (a token of
        // scope CLIENT, the operator's dashboard, sees the client's).
        if (caller.grant && caller.grant.scope !== 'client') wanted.user = caller.user ?? '';
      }
      // Read your writes: what this client just did is in the report, not 250 ms later. A
      // database that is down fails the query below on its own.
      await services.usage.flush().catch(() => {});
      return services.usage.query(wanted, (groupBy ?? []) as UsageDimension[]);
    },
  }),
);
