/** RequestEvent and the live subscriptions: requestEvents (finished requests) and providerHealth. */
import { ErrorCodes, GatewayError } from '../../gateway/errors.js';
import type { RequestEvent, RequestEventFilter } from '../../events/request-events.js';
import { builder } from '../builder.js';
import { ProviderRef } from './catalog.js';

export const RequestStatusEnum = builder.enumType('RequestStatus', {
  values: { OK: { value: 'ok' }, ERROR: { value: 'error' } },
});

const RequestEventFilterInput = builder.inputType('RequestEventFilter', {
  fields: (t) => ({
    clientId: t.string({ description: 'A client id; non-admins only ever see their own.' }),
    model: t.string({ description: 'The upstream model, or the model as called (an alias).' }),
    provider: t.string(),
    status: t.field({ type: RequestStatusEnum }),
  }),
});

const RequestEventRef = builder.objectRef<RequestEvent>('RequestEvent').implement({
  description: 'A request that has just finished, answered or failed.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The request id, as in its usage record and log line.' }),
    time: t.field({ type: 'DateTime', resolve: (e) => new Date(e.time) }),
    clientId: t.exposeString('clientId'),
    user: t.exposeString('user', { nullable: true }),
    alias: t.exposeString('alias', { description: 'The model as called.' }),
    provider: t.exposeString('provider', { nullable: true }),
    model: t.exposeString('model', { nullable: true, description: 'The upstream model.' }),
    status: t.field({ type: RequestStatusEnum, resolve: (e) => e.status }),
    errorCode: t.exposeString('errorCode', {
      nullable: true,
      description: 'On an error: its extensions.code (RATE_LIMITED, UPSTREAM_ERROR…).',
    }),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    cachedTokens: t.exposeInt('cachedTokens'),
    costUsd: t.exposeFloat('costUsd'),
    savedUsd: t.exposeFloat('savedUsd', { description: 'What a cache hit saved.' }),
    latencyMs: t.exposeFloat('latencyMs'),
    ttftMs: t.exposeFloat('ttftMs', { nullable: true, description: 'Time to first token.' }),
    cacheHit: t.exposeBoolean('cacheHit'),
    attempts: t.exposeInt('attempts', { description: 'Upstream tries.' }),
    stream: t.exposeBoolean('stream'),
  }),
});

builder.subscriptionField('requestEvents', (t) =>
  t.field({
    type: RequestEventRef,
    description:
      "Each request as it finishes, on every replica: a client's own, or (admins) everyone's. " +
      'A subscriber that reads too slowly loses the oldest events (counted in ' +
      'conduit_request_events_dropped_total).',
    args: { filter: t.arg({ type: RequestEventFilterInput }) },
    subscribe: (_, { filter }, { services, caller }) => {
      const wanted: RequestEventFilter = {};
      if (filter?.model != null) wanted.model = filter.model;
      if (filter?.provider != null) wanted.provider = filter.provider;
      if (filter?.status != null) wanted.status = filter.status;
      if (caller.admin) {
        if (filter?.clientId != null) wanted.clientId = filter.clientId;
      } else {
        if (filter?.clientId != null && filter.clientId !== caller.clientId) {
          throw new GatewayError(
            ErrorCodes.FORBIDDEN,
            'only admins see the requests of other clients',
          );
        }
        wanted.clientId = caller.clientId;
      }
      return services.infra.events.subscribe(wanted);
    },
    resolve: (event) => event,
  }),
);

builder.subscriptionField('providerHealth', (t) =>
  t.field({
    type: ProviderRef,
    description:
      "Every provider's circuit and key pool now, then each provider again when they change.",
    args: { provider: t.arg.string({ description: 'One provider by name; absent: all.' }) },
    subscribe: (_, { provider }, { services }) =>
      services.infra.health.subscribe(provider ?? undefined),
    resolve: (status) => status,
  }),
);
