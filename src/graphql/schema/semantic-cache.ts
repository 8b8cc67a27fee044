/**
 * The cache's signals on answers (`Completion.cache`, and on a stream's last chunk) and the
 * admin mutations that drop semantic-cache entries. See docs/semantic-cache.md.
 */
import { ErrorCodes, GatewayError } from '../../gateway/errors.js';
import type { Caller, SemanticHit } from '../../gateway/types.js';
import { builder } from '../builder.js';
import { CompletionChunkRef, CompletionRef } from './completion.js';

interface CacheInfo {
  status: 'MISS' | 'EXACT' | 'SEMANTIC';
  similarity: number | null;
  entryId: string | null;
}

export const CacheStatusEnum = builder.enumType('CacheStatus', {
  values: ['MISS', 'EXACT', 'SEMANTIC'] as const,
  description: 'MISS: answered upstream; EXACT: the same request was cached; SEMANTIC: by meaning.',
});

const CacheInfoRef = builder.objectRef<CacheInfo>('CacheInfo').implement({
  description: 'How the cache answered.',
  fields: (t) => ({
    status: t.field({ type: CacheStatusEnum, resolve: (c) => c.status }),
    similarity: t.exposeFloat('similarity', {
      nullable: true,
      description: 'SEMANTIC only: cosine similarity of the two prompts.',
    }),
    entryId: t.exposeID('entryId', {
      nullable: true,
      description: 'SEMANTIC only: the entry that answered (for invalidateCacheEntry).',
    }),
  }),
});

const infoOf = (cached: boolean, semantic: SemanticHit | undefined): CacheInfo =>
  semantic
    ? { status: 'SEMANTIC', similarity: semantic.similarity, entryId: semantic.entryId }
    : { status: cached ? 'EXACT' : 'MISS', similarity: null, entryId: null };

builder.objectField(CompletionRef, 'cache', (t) =>
  t.field({ type: CacheInfoRef, resolve: (c) => infoOf(c.cached, c.semantic) }),
);

builder.objectField(CompletionChunkRef, 'cache', (t) =>
  t.field({
    type: CacheInfoRef,
    nullable: true,
    description: 'On the last chunk only.',
    resolve: (c) => (c.done ? infoOf(c.cached, c.semantic) : null),
  }),
);

function mustBeAdmin(caller: Caller, field: string): void {
  if (!caller.admin) throw new GatewayError(ErrorCodes.FORBIDDEN, `${field} is for admins`);
}

builder.mutationField('invalidateCacheEntry', (t) =>
  t.boolean({
    description: 'Admin only: drops one semantic-cache entry; false when there was none.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, { services, caller }) => {
      mustBeAdmin(caller, 'invalidateCacheEntry');
      return services.infra.semantic.invalidate(String(id));
    },
  }),
);

builder.mutationField('invalidateCacheScope', (t) =>
  t.int({
    description:
      "Admin only: drops every semantic-cache entry of the scope (tenant, model, system prompt, parameters) of this entry's; returns how many.",
    args: { entryId: t.arg.id({ required: true }) },
    resolve: (_, { entryId }, { services, caller }) => {
      mustBeAdmin(caller, 'invalidateCacheScope');
      return services.infra.semantic.dropScope(String(entryId));
    },
  }),
);
