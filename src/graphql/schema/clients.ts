/**
 * Clients at run time (admins only): createClient, updateClient, rotateClientKey, revokeClient;
 * the clients and auditLog cursor connections; and the Client fields they add (source, dates,
 * lastUsedAt, revoked). The work is done by the registry (`clients/registry.ts`).
 */
import DataLoader from 'dataloader';
import type { ClientInfo } from '../../auth.js';
import { ErrorCodes, GatewayError } from '../../gateway/errors.js';
import type { Caller } from '../../gateway/types.js';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { BudgetPeriodEnum, ClientRef } from './catalog.js';
import { afterNumberOf, afterOf, connectionRef, pageOf, pageSize, toCursor } from './connection.js';

function requireAdmin(caller: Caller, what: string): void {
  if (!caller.admin) throw new GatewayError(ErrorCodes.FORBIDDEN, `${what} is for admins`);
}

/** Clients (and their keys) are changed with an admin key, never a token (a dashboard's). */
function requireAdminKey(caller: Caller, what: string): void {
  requireAdmin(caller, what);
  if (caller.grant)
    throw new GatewayError(
      ErrorCodes.FORBIDDEN,
      `${what} needs an admin key: a session token may read clients but not change them`,
    );
}

const ClientSourceEnum = builder.enumType('ClientSource', {
  values: {
    CONFIG: { value: 'config', description: 'From the config file; changed there.' },
    RUNTIME: { value: 'runtime', description: 'Made by createClient; kept in the database.' },
  },
});

const ClientOperationsEnum = builder.enumType('ClientOperations', {
  values: {
    ANY: { value: 'any', description: 'Any document.' },
    PERSISTED: { value: 'persisted', description: 'Only trusted (persisted) documents.' },
  },
});

/** lastUsedAt for every Client of one operation, in one query. */
const lastUsedLoaders = new WeakMap<Context, DataLoader<string, number | null>>();
function lastUsedLoader(context: Context): DataLoader<string, number | null> {
  let loader = lastUsedLoaders.get(context);
  if (!loader) {
    loader = new DataLoader(async (ids) => {
      await context.services.usage.flush().catch(() => {});
      const last = await context.services.infra.clients.lastUsed(ids);
      return ids.map((id) => last.get(id) ?? null);
    });
    lastUsedLoaders.set(context, loader);
  }
  return loader;
}

builder.objectFields(ClientRef, (t) => ({
  source: t.field({ type: ClientSourceEnum, resolve: (c) => c.source }),
  createdAt: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'Runtime clients only.',
    resolve: (c) => c.createdAt ?? null,
  }),
  expiresAt: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'When its key stops working; null: never.',
    resolve: (c) => c.expiresAt ?? null,
  }),
  revoked: t.boolean({ resolve: (c) => c.revoked }),
  lastUsedAt: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'Its latest request in the usage records; null: none.',
    resolve: async (c, _, context) => {
      const last = await lastUsedLoader(context).load(c.id);
      return last === null ? null : new Date(last);
    },
  }),
}));

const RateLimitInput = builder.inputType('RateLimitInput', {
  description: 'So many requests, or so many tokens (give one), per perSeconds.',
  fields: (t) => ({
    requests: t.int(),
    tokens: t.int(),
    perSeconds: t.int({ required: true }),
  }),
});

const BudgetInput = builder.inputType('BudgetInput', {
  fields: (t) => ({
    usd: t.float({ required: true }),
    period: t.field({ type: BudgetPeriodEnum, description: 'Default MONTH.' }),
    alertAt: t.floatList({ description: 'Fractions of usd that alert; default [0.8, 1].' }),
    maxTokens: t.int({ description: 'Answer ceiling when a request gives none; default 4096.' }),
  }),
});

const settingsFields = {
  models: 'Allowed aliases and provider/model globs; null: all.',
  limits: 'Rate limits of this client.',
  budget: 'USD per period; null: none.',
  admin: 'Admins manage clients and see all usage. Default false.',
  origins: 'Browser origins allowed for this client.',
  operations: 'ANY (default) or PERSISTED: only the documents of its manifest, sent by hash.',
  manifest:
    "Trusted documents: the JSON GraphQL Codegen's client preset writes (hash → document), as an object or its text. Each document must parse; a SHA-256 id must be its document's. Needed with PERSISTED; null clears.",
  expiresAt: 'When the key stops working; null: never.',
} as const;

const CreateClientInput = builder.inputType('CreateClientInput', {
  fields: (t) => ({
    id: t.string({ required: true, description: 'Not the id of a config client.' }),
    models: t.stringList({ description: settingsFields.models }),
    limits: t.field({ type: [RateLimitInput], description: settingsFields.limits }),
    budget: t.field({ type: BudgetInput, description: settingsFields.budget }),
    admin: t.boolean({ description: settingsFields.admin }),
    origins: t.stringList({ description: settingsFields.origins }),
    operations: t.field({ type: ClientOperationsEnum, description: settingsFields.operations }),
    manifest: t.field({ type: 'JSON', description: settingsFields.manifest }),
    expiresAt: t.field({ type: 'DateTime', description: settingsFields.expiresAt }),
  }),
});

const UpdateClientInput = builder.inputType('UpdateClientInput', {
  description: 'A field left out stays as it is; null clears it.',
  fields: (t) => ({
    models: t.stringList({ description: settingsFields.models }),
    limits: t.field({ type: [RateLimitInput], description: settingsFields.limits }),
    budget: t.field({ type: BudgetInput, description: settingsFields.budget }),
    admin: t.boolean({ description: settingsFields.admin }),
    origins: t.stringList({ description: settingsFields.origins }),
    operations: t.field({ type: ClientOperationsEnum, description: settingsFields.operations }),
    manifest: t.field({ type: 'JSON', description: settingsFields.manifest }),
    expiresAt: t.field({ type: 'DateTime', description: settingsFields.expiresAt }),
  }),
});

/** Null inside an object means "not given" (only a whole setting may be cleared with null). */
const withoutNulls = (value: unknown): unknown =>
  value && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null))
    : value;

/**
 * GraphQL input → the registry's settings: what was left out stays out; a null that means
 * nothing (admin, limits, origins, operations) is refused by the registry's schema. The
 * manifest goes as it is (a null inside it is no document, and is refused).
 */
function settingsOf(input: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, ...rest } = input;
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (name === 'budget') settings.budget = withoutNulls(value);
    else if (name === 'limits' && Array.isArray(value)) settings.limits = value.map(withoutNulls);
    else settings[name] = value;
  }
  return settings;
}

interface IssuedShape {
  client: ClientInfo;
  key: string;
  previousKeyValidUntil: Date | null;
}

const IssuedKeyRef = builder.objectRef<IssuedShape>('IssuedClientKey').implement({
  description: 'A client and its new key. The key is shown this once: only its SHA-256 is kept.',
  fields: (t) => ({
    client: t.field({ type: ClientRef, resolve: (r) => r.client }),
    key: t.exposeString('key'),
    previousKeyValidUntil: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'rotateClientKey: until when the replaced key still works.',
      resolve: (r) => r.previousKeyValidUntil,
    }),
  }),
});

/** The ClientInfo the authenticator now holds for a runtime client just changed. */
function infoOf(context: Context, id: string): ClientInfo {
  const info = context.services.auth.client(id);
  if (!info) throw new Error(`runtime client ${id} is not known after its change`);
  return info;
}

builder.mutationField('createClient', (t) =>
  t.field({
    type: IssuedKeyRef,
    description: 'Admin only: a runtime client and its key (shown once).',
    args: { input: t.arg({ type: CreateClientInput, required: true }) },
    resolve: async (_, { input }, context) => {
      const { caller, services } = context;
      requireAdminKey(caller, 'createClient');
      const reserved = new Set(services.config.clients.map((c) => c.id));
      const { client, key } = await services.infra.clients.create(
        caller.clientId,
        input.id,
        settingsOf(input),
        reserved,
      );
      return { client: infoOf(context, client.id), key, previousKeyValidUntil: null };
    },
  }),
);

builder.mutationField('updateClient', (t) =>
  t.field({
    type: ClientRef,
    description: 'Admin only: changes a runtime client; left-out fields stay, null clears.',
    args: {
      id: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateClientInput, required: true }),
    },
    resolve: async (_, { id, input }, context) => {
      requireAdminKey(context.caller, 'updateClient');
      const client = await context.services.infra.clients.update(
        context.caller.clientId,
        String(id),
        settingsOf(input),
      );
      return infoOf(context, client.id);
    },
  }),
);

builder.mutationField('rotateClientKey', (t) =>
  t.field({
    type: IssuedKeyRef,
    description:
      'Admin only: a new key for a runtime client (shown once); the old one keeps working for graceSeconds, then stops.',
    args: {
      id: t.arg.id({ required: true }),
      graceSeconds: t.arg.int({ defaultValue: 0 }),
    },
    resolve: async (_, { id, graceSeconds }, context) => {
      requireAdminKey(context.caller, 'rotateClientKey');
      const { client, key } = await context.services.infra.clients.rotate(
        context.caller.clientId,
        String(id),
        graceSeconds ?? 0,
      );
      return {
        client: infoOf(context, client.id),
        key,
        previousKeyValidUntil:
          client.previousKeyUntil === null ? null : new Date(client.previousKeyUntil),
      };
    },
  }),
);

builder.mutationField('revokeClient', (t) =>
  t.field({
    type: ClientRef,
    description: 'Admin only: a runtime client stops working at once, on every replica.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, context) => {
      requireAdminKey(context.caller, 'revokeClient');
      const client = await context.services.infra.clients.revoke(
        context.caller.clientId,
        String(id),
      );
      return infoOf(context, client.id);
    },
  }),
);

const ClientConnectionRef = connectionRef('Client', ClientRef);

builder.queryField('clients', (t) =>
  t.field({
    type: ClientConnectionRef,
    description: 'Admin only: every client, config and runtime (revoked ones too), by id.',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: (_, { first, after }, { caller, services }) => {
      requireAdmin(caller, 'clients');
      const size = pageSize(first);
      const from = afterOf('client', after);
      const all = [...services.auth.clients()]
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .filter((c) => from === undefined || c.id > from);
      return pageOf(all, size, (node) => toCursor('client', node.id));
    },
  }),
);

interface AuditShape {
  id: number;
  time: number;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
}

const AuditEntryRef = builder.objectRef<AuditShape>('AuditEntry').implement({
  description: 'One change: who made it, what, when, and the state before and after (no secrets).',
  fields: (t) => ({
    id: t.id({ resolve: (e) => String(e.id) }),
    time: t.field({ type: 'DateTime', resolve: (e) => new Date(e.time) }),
    actor: t.exposeString('actor', { description: 'The client id, or `config` for a reload.' }),
    action: t.exposeString('action', {
      description:
        'client.create | client.update | client.rotate_key | client.revoke | config.reload',
    }),
    target: t.exposeString('target', { nullable: true, description: 'The client id changed.' }),
    before: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.before }),
    after: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.after }),
  }),
});

const AuditConnectionRef = connectionRef('Audit', AuditEntryRef);

const AuditFilterInput = builder.inputType('AuditFilter', {
  fields: (t) => ({
    action: t.string(),
    target: t.string({ description: 'A client id.' }),
    since: t.field({ type: 'DateTime', description: 'Inclusive.' }),
    until: t.field({ type: 'DateTime', description: 'Exclusive.' }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.field({
    type: AuditConnectionRef,
    description: 'Admin only: the audit log, newest first.',
    args: { first: t.arg.int(), after: t.arg.string(), filter: t.arg({ type: AuditFilterInput }) },
    resolve: async (_, { first, after, filter }, { caller, services }) => {
      requireAdmin(caller, 'auditLog');
      const size = pageSize(first);
      const beforeId = afterNumberOf('audit', after);
      const rows = await services.infra.clients.auditLog({
        first: size + 1,
        beforeId,
        action: filter?.action ?? undefined,
        target: filter?.target ?? undefined,
        since: filter?.since ?? undefined,
        until: filter?.until ?? undefined,
      });
      return pageOf(rows, size, (node) => toCursor('audit', node.id));
    },
  }),
);
