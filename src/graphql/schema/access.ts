/** createSessionToken: a client's backend mints a short-lived token for one of its users. */
import { ErrorCodes, GatewayError } from '../../gateway/errors.js';
import type { MintedToken } from '../../access/session-tokens.js';
import { builder } from '../builder.js';

const SessionScopeEnum = builder.enumType('SessionTokenScope', {
  values: {
    USER: {
      value: 'user',
      description: "One end user of the client: never admin, that user's usage only.",
    },
    CLIENT: {
      value: 'client',
      description:
        "The operator's own tools (the dashboard): the client's rights, admin when it is, its whole usage. Changing clients still needs the key.",
    },
  },
});

const SessionTokenInput = builder.inputType('SessionTokenInput', {
  fields: (t) => ({
    user: t.string({
      required: true,
      description: 'The end user: per-user limits, budget and usage follow it.',
    }),
    ttlSeconds: t.int({
      description:
        'How long the token lives; capped by auth.sessionTokens.maxTtlSeconds (default 900).',
    }),
    models: t.stringList({
      description: "Models the token may use, within the client's (narrowed, never widened).",
    }),
    maxTokensPerRequest: t.int({ description: 'The most answer tokens one request may get.' }),
    budgetUsd: t.float({
      description: "The user's own budget for the client's budget period (a month without one).",
    }),
    scope: t.field({ type: SessionScopeEnum, description: 'Default USER.' }),
  }),
});

const SessionTokenRef = builder.objectRef<MintedToken>('SessionToken').implement({
  description: 'A signed token (JWT) to send as `Authorization: Bearer <token>` in its stead.',
  fields: (t) => ({
    token: t.exposeString('token'),
    expiresAt: t.field({ type: 'DateTime', resolve: (s) => s.expiresAt }),
    clientId: t.exposeString('clientId'),
    user: t.exposeString('user'),
    models: t.exposeStringList('models', { nullable: true }),
    scope: t.field({ type: SessionScopeEnum, resolve: (s) => s.scope }),
  }),
});

builder.mutationField('createSessionToken', (t) =>
  t.field({
    type: SessionTokenRef,
    description:
      "Called with a client key (from the app's backend): a short-lived token for one end user, never wider than the client.",
    args: { input: t.arg({ type: SessionTokenInput, required: true }) },
    resolve: (_, { input }, { services, caller }) => {
      const sessions = services.access.sessions;
      if (!sessions)
        throw new GatewayError(
          ErrorCodes.FORBIDDEN,
          'session tokens are off: set auth.sessionTokens',
        );
      if (caller.grant)
        throw new GatewayError(
          ErrorCodes.FORBIDDEN,
          'a token cannot mint tokens: call with the client key',
        );
      const client = services.auth.client(caller.clientId);
      if (!client?.keyId)
        throw new GatewayError(ErrorCodes.FORBIDDEN, 'session tokens need a client key');
      return sessions.mint(client, input);
    },
  }),
);
