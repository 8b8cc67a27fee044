/**
 * Trusted documents on Yoga's own handler (GET, and every POST the transport leaves to Yoga):
 * `@graphql-yoga/plugin-persisted-operations`, asked per request whether the caller's client
 * is persisted. Only in force while some client is: otherwise every hook returns at once.
 */
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { Plugin } from 'graphql-yoga';
import type { Caller } from '../gateway/types.js';
import type { Services } from '../services.js';
import {
  PERSISTED_NOT_FOUND,
  PERSISTED_ONLY,
  persistedIdOf,
  persistedOnlyMessage,
} from './persisted.js';

/** The caller of a request, or undefined when its credential is refused (the context says so). */
async function callerOf(services: Services, request: Request): Promise<Caller | undefined> {
  try {
    return await services.access.authenticate(request.headers.get('authorization'));
  } catch {
    return undefined;
  }
}

export function usePersistedDocuments(services: () => Services): Plugin {
  const inner = usePersistedOperations({
    allowArbitraryOperations: async (request) => {
      const current = services();
      const caller = await callerOf(current, request);
      return !caller || !current.access.documentsOf(caller);
    },
    getPersistedOperation: async (id, request) => {
      const current = services();
      const caller = await callerOf(current, request);
      return (caller && current.access.documentsOf(caller)?.get(id)) ?? null;
    },
    extractPersistedOperationId: (params) =>
      persistedIdOf(params as Parameters<typeof persistedIdOf>[0]),
    customErrors: {
      persistedQueryOnly: {
        message: persistedOnlyMessage,
        extensions: { code: PERSISTED_ONLY, http: { status: 400 } },
      },
      notFound: {
        message: 'no persisted document by that id for this client',
        extensions: { code: PERSISTED_NOT_FOUND, http: { status: 400 } },
      },
      keyNotFound: {
        message: 'Must provide query string, or a persisted document id.',
        extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
      },
    },
  });
  return {
    onParams(payload) {
      if (!services().access.persisted) return;
      return inner.onParams!(payload);
    },
    onParse(payload) {
      if (!services().access.persisted) return;
      return inner.onParse!(payload);
    },
    onValidate(payload) {
      if (!services().access.persisted) return;
      return inner.onValidate!(payload);
    },
  };
}

/**
 * Whether a request's credential is of a persisted client: the transport then leaves the
 * request to Yoga's handler, where the plugin above resolves or refuses it.
 */
export async function isPersistedCaller(
  services: Services,
  authorization: string | undefined,
): Promise<boolean> {
  try {
    const caller = await services.access.authenticate(authorization);
    return services.access.documentsOf(caller) !== undefined;
  } catch {
    return false;
  }
}
