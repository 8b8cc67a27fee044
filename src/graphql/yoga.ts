/** Yoga over the Pothos schema: masked errors, GraphiQL with a ready example, document limits, context. */
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { Cancel, cancelFollowing } from '../gateway/cancel.js';
import type { Caller } from '../gateway/types.js';
import { GatewayError } from '../gateway/errors.js';
import { createCors, type Cors } from '../http/cors.js';
import type { Services } from '../services.js';
import { createContext, type Context } from './context.js';
import { createDocumentCaches } from './document-cache.js';
import { useErrorCodes } from './error-codes.js';
import { graphiqlOptions, renderPage } from './graphiql.js';
import { maskError, toGraphQLError } from './errors.js';
import { useDocumentLimits } from './limits.js';
import { schema } from './schema/index.js';
import { useChunkPlans } from './transport/chunks.js';
import { executeOperation } from './transport/execute.js';

/**
 * What the edges hand Yoga's envelop (`src/graphql/transport/`), typed: the transport's own
 * operations carry no fetch `Request` (Yoga's own handler adds one).
 */
export interface ServerContext {
  /** The caller, when already known (a WebSocket authenticated at connection). */
  caller?: Caller;
  /** The `Authorization` header, when there is no fetch Request to read it from. */
  authorization?: string | null;
  /** The operation's Cancel, aborted when its client goes away: the gateway's signal. */
  cancel?: Cancel;
}

export type ConduitYoga = YogaServerInstance<ServerContext, Context>;

/** Queries and mutations: compiled plans, graphql-js's `execute` where they do not apply. */
const executeCompiled: Plugin = {
  onExecute: ({ setExecuteFn }) => setExecuteFn(executeOperation),
};

export function createConduitYoga(services: () => Services): ConduitYoga {
  // Server settings take a restart (a reload keeps them): read once.
  const limits = useDocumentLimits(services().config.server.graphql);

  // Server settings never change on reload: one Cors for the life of the server.
  let cors: Cors | undefined;

  return createYoga<ServerContext, Context>({
    schema,
    // The transport and REST answer from the same list (`http/cors.ts`).
    cors: (request) =>
      (cors ??= createCors(services().config.server.cors.origins)).yogaOptions(request),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: false,
    maskedErrors: { maskError },
    parserAndValidationCache: createDocumentCaches(),
    graphiql: graphiqlOptions,
    renderGraphiQL: renderPage,
    plugins: [...limits, useErrorCodes(), executeCompiled, useChunkPlans],
    context: ({ request, caller, authorization, cancel }) => {
      const current = services();
      // Yoga called with no Cancel of ours (tests call `yoga.fetch` directly): its Request's.
      const signal = cancel ?? (request ? cancelFollowing(request.signal) : new Cancel());
      try {
        // Over WebSocket the server authenticated at connection and there is no fetch Request.
        if (caller) return createContext(caller, current, signal);
        const who = current.auth.authenticate(
          authorization !== undefined ? authorization : request.headers.get('authorization'),
        );
        return createContext(who, current, signal);
      } catch (error) {
        throw GatewayError.isInstance(error) ? toGraphQLError(error) : error;
      }
    },
  });
}
