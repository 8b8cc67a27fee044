/** Yoga over the Pothos schema: masked errors, GraphiQL with a ready example, document limits, context. */
import { usePersistedDocuments } from '../access/persisted-plugin.js';
import { createYoga, type CORSOptions, type Plugin, type YogaServerInstance } from 'graphql-yoga';
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
  /** The `Origin` header, likewise (a credential's client may list its own origins). */
  origin?: string | null;
  /** The operation's Cancel, aborted when its client goes away: the gateway's signal. */
  cancel?: Cancel;
}

export type ConduitYoga = YogaServerInstance<ServerContext, Context>;

/**
 * What the transport's runner needs to run a known operation without envelop
 * (`transport/runner.ts`): the context function Yoga's one context hook runs, and Yoga's own
 * masking of an error (what its masked-errors plugin does to a subscription's events).
 */
export interface DirectPath {
  context(edge: ServerContext): Context | Promise<Context>;
  maskError(error: unknown): Error;
}

interface MaskingOptions {
  maskError(error: unknown, message: string): Error;
  errorMessage: string;
}

const directPaths = new WeakMap<ConduitYoga, DirectPath>();

/** The direct path of a Yoga made by `createConduitYoga`, when its plugins allow one. */
export const directPathOf = (yoga: ConduitYoga): DirectPath | undefined => directPaths.get(yoga);

interface Hooked {
  onContextBuilding?: unknown;
  onExecute?: unknown;
  onSubscribe?: unknown;
  instrumentation?: unknown;
}

/**
 * Whether skipping envelop changes nothing for a result without errors: no plugin instruments
 * operations; Yoga's own context hook is the only one (it runs our `context`); the execute hooks
 * are Yoga's own (its executor, which ours replaces, and error masking) and ours in `onErrors`
 * (executor and hooks that only touch errors); likewise the subscribe hooks (Yoga's masking,
 * our subscriber and hidden suggestions). A plugin added with a context, execute or subscribe
 * hook of its own (a tracer's span per operation, say) turns the direct path off until it is
 * listed.
 */
function allowsDirectPath(all: readonly Hooked[], ours: readonly Hooked[], onErrors: Set<Hooked>) {
  let contextHooks = 0;
  for (const plugin of all) {
    if (plugin.instrumentation) return false;
    if (plugin.onContextBuilding) contextHooks++;
    const mine = ours.includes(plugin);
    const hooks = plugin.onContextBuilding || plugin.onExecute || plugin.onSubscribe;
    if (mine && hooks && !onErrors.has(plugin)) return false;
  }
  return contextHooks === 1;
}

/** Queries and mutations: compiled plans, graphql-js's `execute` where they do not apply. */
const executeCompiled: Plugin = {
  onExecute: ({ setExecuteFn }) => setExecuteFn(executeOperation),
};

/**
 * No CORS headers for a credential used from an origin its client does not list (the context
 * then refuses the request, 403): the page reads neither answer nor refusal.
 */
function withoutRefusedOrigin(
  access: Services['access'],
  request: Request,
  options: CORSOptions,
): CORSOptions | Promise<CORSOptions> {
  const authorization = request.headers.get('authorization');
  if (!authorization) return options;
  const decide = (caller: Caller): CORSOptions => {
    try {
      access.checkOrigin(caller, request.headers.get('origin'));
      return options;
    } catch {
      return false;
    }
  };
  try {
    const who = access.authenticate(authorization);
    // A credential refused is the context's to answer (401), with the CORS headers.
    return who instanceof Promise ? who.then(decide, () => options) : decide(who);
  } catch {
    return options;
  }
}

export function createConduitYoga(services: () => Services): ConduitYoga {
  // Server settings take a restart (a reload keeps them): read once.
  const limits = useDocumentLimits(services().config.server.graphql);

  // One Cors for the life of the server, reading the origins in force (clients' change on reload).
  let cors: Cors | undefined;

  const errorCodes = useErrorCodes();
  const plugins: Plugin[] = [
    usePersistedDocuments(services),
    ...limits,
    errorCodes,
    executeCompiled,
    useChunkPlans,
  ];
  // Their execute and subscribe hooks touch errors only (codes, hidden suggestions), or set the
  // executor or the subscriber.
  const onErrors = new Set<Plugin>([...limits, errorCodes, executeCompiled, useChunkPlans]);

  const context = ({
    request,
    caller,
    authorization,
    origin,
    cancel,
  }: ServerContext & { request?: Request }): Context | Promise<Context> => {
    const current = services();
    // Yoga called with no Cancel of ours (tests call `yoga.fetch` directly): its Request's.
    const signal = cancel ?? (request ? cancelFollowing(request.signal) : new Cancel());
    try {
      // Over WebSocket the server authenticated at connection and there is no fetch Request.
      if (caller) return createContext(caller, current, signal);
      const who = current.access.authenticate(
        authorization !== undefined
          ? authorization
          : (request?.headers.get('authorization') ?? null),
      );
      const admit = (verified: Caller): Context => {
        if (current.access.perClientOrigins)
          current.access.checkOrigin(
            verified,
            origin !== undefined ? origin : (request?.headers.get('origin') ?? null),
          );
        return createContext(verified, current, signal);
      };
      // A token not verified before: its signature is checked (asynchronously) once.
      if (who instanceof Promise)
        return who.then(admit).catch((error: unknown) => {
          throw GatewayError.isInstance(error) ? toGraphQLError(error) : error;
        });
      return admit(who);
    } catch (error) {
      throw GatewayError.isInstance(error) ? toGraphQLError(error) : error;
    }
  };

  const yoga = createYoga<ServerContext, Context>({
    schema,
    // The transport and REST answer from the same list (`http/cors.ts`).
    cors: (request) => {
      const options = (cors ??= createCors(() => services().access.origins)).yogaOptions(request);
      const { access } = services();
      if (options === false || !access.perClientOrigins || request.method === 'OPTIONS')
        return options;
      return withoutRefusedOrigin(access, request, options);
    },
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: false,
    maskedErrors: { maskError },
    parserAndValidationCache: createDocumentCaches(),
    graphiql: graphiqlOptions,
    renderGraphiQL: renderPage,
    // Trusted documents (`access/persisted.ts`): `documentId` is the plain form of their id.
    extraParamNames: ['documentId'],
    plugins,
    context,
  });
  // Yoga's list of every plugin, its own included (a protected field: read, never changed).
  const all = (yoga as unknown as { plugins: Hooked[] }).plugins;
  // Yoga's masking as its masked-errors plugin applies it (a private field: read, never changed).
  const masking = (yoga as unknown as { maskedErrorsOpts: MaskingOptions | null }).maskedErrorsOpts;
  if (masking && allowsDirectPath(all, plugins, onErrors))
    directPaths.set(yoga, {
      context,
      maskError: (error) => masking.maskError(error, masking.errorMessage),
    });
  return yoga;
}
