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
 */
import {
  getOperationAST,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  type OperationDefinitionNode,
} from 'graphql';
import { createGraphQLError, isAsyncIterable } from 'graphql-yoga';
import type { Context } from '../context.js';
import { boundedCache } from '../document-cache.js';
import { maskError } from '../errors.js';
import type { ConduitYoga, ServerContext } from '../yoga.js';
import type { OperationParams } from './negotiate.js';

type Enveloped = ReturnType<ConduitYoga['getEnveloped']>;

/** A document parsed and validated, before anything about the caller is known. */
export interface Checked {
  document: DocumentNode;
  /** The operation to run; null when the document does not say which (Yoga's error then). */
  operation: OperationDefinitionNode | null;
  enveloped: Enveloped;
  params: OperationParams;
}

/** What to run, with its context (the caller let in). */
export interface Started {
  args: ExecutionArgs & { contextValue: Context };
  enveloped: Enveloped;
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

  return {
    check(params, edge) {
      const enveloped = yoga.getEnveloped({ ...edge, params });
      const known = plans.get(params.query);
      if (known) {
        const operation = operationOf(known, params.operationName);
        return { document: known.document, operation, enveloped, params };
      }
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
      const plan: Plan = { document, operations: new Map() };
      plans.set(params.query, plan);
      return { document, operation: operationOf(plan, params.operationName), enveloped, params };
    },

    async start({ document, enveloped, params }) {
      let contextValue: Context;
      try {
        contextValue = (await enveloped.contextFactory()) as Context;
      } catch (error) {
        return { refused: asGraphQLError(error) };
      }
      const args = {
        schema: enveloped.schema,
        document,
        contextValue,
        variableValues: params.variables ?? null,
        operationName: params.operationName ?? null,
      };
      return { args, enveloped };
    },

    async execute({ args, enveloped }) {
      try {
        const executed: unknown = await enveloped.execute(args);
        // No @defer or @stream in this schema: a query or mutation gives one result.
        if (isAsyncIterable(executed)) throw new Error('an incremental result is not supported');
        return executed as ExecutionResult;
      } catch (error) {
        return { errors: [asGraphQLError(error)] };
      }
    },

    async subscribe({ args, enveloped }) {
      try {
        return (await enveloped.subscribe(args)) as
          AsyncIterable<ExecutionResult> | ExecutionResult;
      } catch (error) {
        return { errors: [asGraphQLError(error)] };
      }
    },
  };
}
