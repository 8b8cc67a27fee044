/**
 * The one operation runner of every GraphQL edge (HTTP JSON, HTTP SSE, WebSocket): parse and
 * validate through Yoga's envelop (its bounded document cache, graphql-armor's limits and the
 * completion cap: every rule Yoga's own handler applies, and before the caller's key is read),
 * then build the context (the key checked, once), then execute or subscribe. Masked errors and
 * error codes are the envelop's plugins, so each edge answers as Yoga would.
 *
 * Each distinct document is checked once: one that passed parse and validation is kept (by its
 * source text, bounded as Yoga's own caches, `document-cache.ts`) with its operations, and a
 * repeat of it skips the envelop's parse and validate hooks altogether. The schema and the rules
 * never change while the server runs (limits are server settings: a restart), so a document
 * that passed once passes again. A refused one is not kept: Yoga's caches answer its repeats.
 *
 * A query or mutation runs directly when Yoga allows it (`directPathOf`, `yoga.ts`: no
 * plugin's context or execute hook does anything on a result without errors): the context from
 * Yoga's own context function, the executor of `execute.ts`, no envelop (its hook chains,
 * promise helpers and per-request closures cost about as much as running the `complete`
 * mutation itself). A result with errors goes through envelop's execute hooks after all
 * (masking, error codes, hidden suggestions), over the result at hand: nothing runs twice.
 *
 * A subscription whose document has a chunk plan (`chunks.ts`: one `completionStream` field of
 * leaves, what clients send) runs directly too: its context made the same way, its variables
 * coerced by a compiled coercion, each event's errors masked as Yoga's masked-errors plugin
 * masks them (the only subscribe hook that touches a stream; `directPathOf` says so). Refused
 * before it began (variables that do not coerce, the gateway's refusal), its result goes
 * through envelop's subscribe hooks as a query's errors do. Any other subscribes through
 * envelop.
 */
import {
  getOperationAST,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { createGraphQLError, isAsyncIterable } from 'graphql-yoga';
import type { Context } from '../context.js';
import { boundedCache } from '../document-cache.js';
import { maskError } from '../errors.js';
import { directPathOf, type ConduitYoga, type ServerContext } from '../yoga.js';
import { subscribeDirectly } from './chunks.js';
import { executeOperation, settleWith } from './execute.js';
import type { OperationParams } from './negotiate.js';

type Enveloped = ReturnType<ConduitYoga['getEnveloped']>;

/** A document parsed and validated, before anything about the caller is known. */
export interface Checked {
  document: DocumentNode;
  /** The operation to run; null when the document does not say which (Yoga's error then). */
  operation: OperationDefinitionNode | null;
  params: OperationParams;
  schema: GraphQLSchema;
  edge: ServerContext;
  /** Envelop over this request; made when first needed (never, on the direct path). */
  enveloped: Enveloped | undefined;
}

/** What to run, with its context (the caller let in). */
export interface Started {
  args: ExecutionArgs & { contextValue: Context };
  checked: Checked;
  /**
   * Run without envelop (`directPathOf`); its hooks only see a result with errors (or a
   * subscription of a document without a chunk plan).
   */
  direct: boolean;
}

export interface OperationRunner {
  /**
   * Parses and validates (limits included, before the key is read). The errors are the
   * document's refusal, as Yoga's hooks made them (codes, masked suggestions).
   */
  check(
    params: OperationParams,
    edge: ServerContext,
  ): Checked | { errors: readonly GraphQLError[] };
  /** Builds the context (the key checked, once), or gives the refusal (401, masked). */
  start(checked: Checked): Promise<Started | { refused: GraphQLError }>;
  /** A query or mutation's one result; a thrown error becomes a masked GraphQL error. */
  execute(started: Started): Promise<ExecutionResult>;
  /** A subscription's results, or its one result when it failed before it began. */
  subscribe(started: Started): Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;
}

/** A thrown error as Yoga's masked GraphQLError. */
export function asGraphQLError(error: unknown): GraphQLError {
  const masked = maskError(error, 'Unexpected error.');
  return masked instanceof Error && 'extensions' in masked
    ? (masked as GraphQLError)
    : createGraphQLError(masked.message, { originalError: masked });
}

const isGraphQLError = (error: unknown): error is GraphQLError =>
  error instanceof Error && error.name === 'GraphQLError';

/** A document that passed parse and validation, and its operations by the name asked. */
interface Plan {
  document: DocumentNode;
  schema: GraphQLSchema;
  operations: Map<string | null, OperationDefinitionNode | null>;
}

function operationOf(plan: Plan, name: string | null | undefined): OperationDefinitionNode | null {
  const key = name ?? null;
  let operation = plan.operations.get(key);
  if (operation === undefined) {
    operation = getOperationAST(plan.document, key) ?? null;
    plan.operations.set(key, operation);
  }
  return operation;
}

export function createOperationRunner(yoga: ConduitYoga): OperationRunner {
  const plans = boundedCache<Plan>();
  const direct = directPathOf(yoga);
  const envelopedOf = (checked: Checked): Enveloped =>
    (checked.enveloped ??= yoga.getEnveloped({ ...checked.edge, params: checked.params }));
  const argsOf = (checked: Checked, contextValue: Context) => ({
    schema: checked.schema,
    document: checked.document,
    contextValue,
    variableValues: checked.params.variables ?? null,
    operationName: checked.params.operationName ?? null,
  });

  /** The context without envelop: Yoga's context function, as its one context hook runs it. */
  async function startDirectly(checked: Checked): Promise<Started | { refused: GraphQLError }> {
    let contextValue: Context;
    try {
      const made = direct!.context(checked.edge);
      contextValue = made instanceof Promise ? await made : made;
    } catch (error) {
      return { refused: asGraphQLError(error) };
    }
    return { args: argsOf(checked, contextValue), checked, direct: true };
  }

  return {
    check(params, edge) {
      const known = plans.get(params.query);
      if (known) {
        const operation = operationOf(known, params.operationName);
        const { document, schema } = known;
        return { document, operation, params, schema, edge, enveloped: undefined };
      }
      const enveloped = yoga.getEnveloped({ ...edge, params });
      let document: DocumentNode | Error;
      try {
        document = enveloped.parse(params.query);
      } catch (error) {
        if (isGraphQLError(error)) return { errors: [error] };
        throw error;
      }
      if (document instanceof Error) return { errors: [document as GraphQLError] };
      const errors = enveloped.validate(enveloped.schema, document);
      if (errors.length > 0) return { errors };
      const plan: Plan = { document, schema: enveloped.schema, operations: new Map() };
      plans.set(params.query, plan);
      const operation = operationOf(plan, params.operationName);
      return { document, operation, params, schema: enveloped.schema, edge, enveloped };
    },

    async start(checked) {
      if (direct && checked.operation) return startDirectly(checked);
      const enveloped = envelopedOf(checked);
      let contextValue: Context;
      try {
        contextValue = (await enveloped.contextFactory()) as Context;
      } catch (error) {
        return { refused: asGraphQLError(error) };
      }
      return { args: argsOf(checked, contextValue), checked, direct: false };
    },

    async execute({ args, checked, direct }) {
      try {
        if (direct) {
          const result = await executeOperation(args);
          if (!result.errors) return result;
          // Envelop's hooks shape the errors; its executor gives them this result, not a new run.
          settleWith(args.contextValue, result);
        }
        const executed: unknown = await envelopedOf(checked).execute(args);
        // No @defer or @stream in this schema: a query or mutation gives one result.
        if (isAsyncIterable(executed)) throw new Error('an incremental result is not supported');
        return executed as ExecutionResult;
      } catch (error) {
        return { errors: [asGraphQLError(error)] };
      }
    },

    async subscribe({ args, checked, direct: directly }) {
      try {
        const subscribed = directly ? subscribeDirectly(args, direct!.maskError) : undefined;
        if (subscribed) {
          const result = await subscribed;
          if (isAsyncIterable(result)) return result;
          // Envelop's hooks shape the errors; the subscriber gives them this result.
          settleWith(args.contextValue, result);
        }
        return (await envelopedOf(checked).subscribe(args)) as
          AsyncIterable<ExecutionResult> | ExecutionResult;
      } catch (error) {
        return { errors: [asGraphQLError(error)] };
      }
    },
  };
}
