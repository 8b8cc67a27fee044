/**
 * The request log's queries (docs/request-log.md): `requests`, a cursor connection of logged
 * requests newest first, and `request(id)`, one with its bodies. A client sees its own (a
 * token's bearer, its own user's); an admin everyone's.
 */
import DataLoader from 'dataloader';
import { ErrorCodes, GatewayError } from '../../gateway/errors.js';
import type { Caller } from '../../gateway/types.js';
import type {
  LoggedAttempt,
  LoggedRequest,
  RequestLogFilter,
  StoredBodies,
} from '../../requestlog/types.js';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { FinishReasonEnum, ToolCallRef } from './completion.js';
import { RequestStatusEnum } from './events.js';
import { afterNumberOf, connectionRef, pageOf, pageSize, toCursor } from './connection.js';
import { CacheStatusEnum } from './semantic-cache.js';

/** The bodies of every entry an operation shows, in one query. */
const bodyLoaders = new WeakMap<Context, DataLoader<number, StoredBodies | null>>();
function bodies(context: Context, entry: LoggedRequest): Promise<StoredBodies | null> {
  let loader = bodyLoaders.get(context);
  if (!loader) {
    const store = context.services.infra.requestLog;
    loader = new DataLoader(async (seqs) => {
      const found = await store.bodies(seqs);
      return seqs.map((seq) => found.get(seq) ?? null);
    });
    bodyLoaders.set(context, loader);
  }
  return loader.load(entry.seq);
}

const AttemptRef = builder.objectRef<LoggedAttempt>('RequestLogAttempt').implement({
  description: 'One upstream try of a logged request.',
  fields: (t) => ({
    provider: t.exposeString('provider'),
    model: t.exposeString('model'),
    status: t.field({ type: RequestStatusEnum, resolve: (a) => a.status }),
    errorKind: t.exposeString('errorKind', {
      nullable: true,
      description: 'rate_limited, timeout, server, auth…; null when the try succeeded.',
    }),
    error: t.exposeString('error', { nullable: true, description: 'Redacted.' }),
    latencyMs: t.exposeFloat('latencyMs'),
  }),
});

const BodyPartEnum = builder.enumType('RequestLogBodyPart', {
  values: {
    PROMPT: { value: 'prompt' },
    PARAMETERS: { value: 'parameters' },
    ANSWER: { value: 'answer' },
    TOOL_CALLS: { value: 'toolCalls' },
  },
});

const cacheStatusOut = { miss: 'MISS', exact: 'EXACT', semantic: 'SEMANTIC' } as const;

const EntryRef = builder.objectRef<LoggedRequest>('RequestLogEntry').implement({
  description: 'A logged request: what was asked, what was answered, and how.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The request id, as in its usage record and log line.' }),
    time: t.field({ type: 'DateTime', resolve: (e) => e.time }),
    clientId: t.exposeString('clientId'),
    user: t.exposeString('user', { nullable: true }),
    alias: t.exposeString('alias', { description: 'The model as called.' }),
    provider: t.exposeString('provider', { nullable: true }),
    model: t.exposeString('model', { nullable: true, description: 'The upstream model.' }),
    route: t.exposeString('route', { description: 'The edge it came in by.' }),
    status: t.field({ type: RequestStatusEnum, resolve: (e) => e.status }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    cacheStatus: t.field({ type: CacheStatusEnum, resolve: (e) => cacheStatusOut[e.cacheStatus] }),
    stream: t.exposeBoolean('stream'),
    latencyMs: t.exposeFloat('latencyMs'),
    ttftMs: t.exposeFloat('ttftMs', { nullable: true }),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    cachedTokens: t.exposeInt('cachedTokens'),
    estimated: t.exposeBoolean('estimated'),
    costUsd: t.exposeFloat('costUsd'),
    savedUsd: t.exposeFloat('savedUsd'),
    finishReason: t.field({
      type: FinishReasonEnum,
      nullable: true,
      resolve: (e) => e.finishReason,
    }),
    attempts: t.field({ type: [AttemptRef], resolve: (e) => e.attempts }),
    bodiesDropped: t.exposeBoolean('bodiesDropped', {
      description: 'True when the store lagged and kept this entry without its bodies.',
    }),
    prompt: t.string({
      nullable: true,
      description: 'The messages, as JSON text (redacted; cut when in `truncated`).',
      resolve: async (e, _, context) => (await bodies(context, e))?.prompt ?? null,
    }),
    parameters: t.string({
      nullable: true,
      description: 'temperature, maxTokens, tools… as JSON text.',
      resolve: async (e, _, context) => (await bodies(context, e))?.parameters ?? null,
    }),
    answer: t.string({
      nullable: true,
      description: "The answer's text.",
      resolve: async (e, _, context) => (await bodies(context, e))?.answer ?? null,
    }),
    toolCalls: t.field({
      type: [ToolCallRef],
      resolve: async (e, _, context) => (await bodies(context, e))?.toolCalls ?? [],
    }),
    truncated: t.field({
      type: [BodyPartEnum],
      description: 'The bodies cut to `requestLog.maxBodyBytes`.',
      resolve: async (e, _, context) => (await bodies(context, e))?.truncated ?? [],
    }),
  }),
});

const ConnectionRef = connectionRef('RequestLog', EntryRef);

const FilterInput = builder.inputType('RequestLogFilter', {
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Inclusive.' }),
    to: t.field({ type: 'DateTime', description: 'Exclusive.' }),
    client: t.string({ description: 'A client id; non-admins only ever see their own.' }),
    user: t.string(),
    model: t.string({ description: 'The upstream model, or the model as called (an alias).' }),
    provider: t.string(),
    status: t.field({ type: RequestStatusEnum }),
    cacheStatus: t.field({ type: CacheStatusEnum }),
    text: t.string({ description: 'Words that must all appear in the prompt or the answer.' }),
  }),
});

const cacheStatusIn = { MISS: 'miss', EXACT: 'exact', SEMANTIC: 'semantic' } as const;

/** What a caller may see: an admin everything, a client its own, a token's bearer its user's. */
function scopeOf(caller: Caller, client: string | null | undefined): RequestLogFilter {
  if (caller.admin) return client == null ? {} : { clientId: client };
  if (client != null && client !== caller.clientId)
    throw new GatewayError(ErrorCodes.FORBIDDEN, 'only admins see the requests of other clients');
  return caller.grant
    ? { clientId: caller.clientId, user: caller.user ?? '' }
    : { clientId: caller.clientId };
}

builder.queryField('requests', (t) =>
  t.field({
    type: ConnectionRef,
    description: 'The request log (`requestLog.enabled`), newest first.',
    args: { filter: t.arg({ type: FilterInput }), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_, { filter, first, after }, { caller, services }) => {
      const size = pageSize(first);
      const beforeSeq = afterNumberOf('request', after);
      const wanted: RequestLogFilter = scopeOf(caller, filter?.client);
      if (filter?.from) wanted.from = filter.from;
      if (filter?.to) wanted.to = filter.to;
      if (filter?.user != null && wanted.user === undefined) wanted.user = filter.user;
      if (filter?.model != null) wanted.model = filter.model;
      if (filter?.provider != null) wanted.provider = filter.provider;
      if (filter?.status != null) wanted.status = filter.status;
      if (filter?.cacheStatus != null) wanted.cacheStatus = cacheStatusIn[filter.cacheStatus];
      if (filter?.text != null) wanted.text = filter.text;
      const store = services.infra.requestLog;
      // Read your writes: what just finished is listed, not 250 ms later.
      await store.flush().catch(() => {});
      const rows = await store.list(wanted, size + 1, beforeSeq);
      return pageOf(rows, size, (node) => toCursor('request', node.seq));
    },
  }),
);

builder.queryField('request', (t) =>
  t.field({
    type: EntryRef,
    nullable: true,
    description: 'One logged request, with its bodies; null when it is not logged or not yours.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, { caller, services }) => {
      const store = services.infra.requestLog;
      await store.flush().catch(() => {});
      return store.get(String(id), scopeOf(caller, undefined));
    },
  }),
);
