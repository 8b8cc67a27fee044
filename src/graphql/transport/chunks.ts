/**
 * `completionStream` events without a general executor per chunk. graphql-js runs a
 * subscription's selection set on every event (`execute` with the event as root: a context,
 * field collection, a resolver and a leaf serialisation per field). For the documents clients
 * send (one `completionStream` field selecting scalar fields of CompletionChunk), the shape of
 * every event's result is known from the document: a plan per document builds it directly, key
 * for key as graphql-js would (selection order, the schema's own leaf serialisers).
 *
 * Which documents take the plan, decided per document (the rest, and any chunk the plan cannot
 * vouch for, go through graphql-js's `execute` as before): one operation field, no directives,
 * fragments or duplicate response keys, and leaf fields only (`usage` and `toolCalls` have
 * selections of their own: graphql-js). A chunk that is an Error (the stream failed after its
 * first chunk) or has null in a non-null field goes through graphql-js too, which makes its
 * error exactly as before.
 *
 * A planned document's subscription can also start without envelop (`subscribeDirectly`, the
 * runner's direct path): the root field's `subscribe` resolver called as graphql-js's
 * `createSourceEventStream` calls it, but with the variables coerced by graphql-jit's compiled
 * coercion of the document's variable definitions (made once per document, as `execute.ts`
 * compiles queries: graphql-js walks `CompletionInput` and every message through
 * `coerceInputValue` on each subscription, 10–12 µs against 0.3 compiled), and
 * each event's result masked as Yoga's masked-errors plugin masks it. Variables that do not
 * coerce get graphql-js's own errors (its coercion run again for them, nothing resolved).
 */
import {
  createSourceEventStream,
  execute,
  getArgumentValues,
  getNamedType,
  getVariableValues,
  type GraphQLError,
  isLeafType,
  isNonNullType,
  Kind,
  locatedError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLField,
  type GraphQLLeafType,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { compileAfter, compiler, takeSettled } from './execute.js';

interface Leaf {
  key: string;
  name: string;
  type: GraphQLLeafType;
  nonNull: boolean;
}

/** A chunk's result, or undefined when graphql-js must make it. */
type ChunkPlan = (chunk: unknown) => ExecutionResult | undefined;

type Coerced = { coerced: Record<string, unknown>; errors?: undefined } | { errors: unknown };
type Coercion = (inputs: Record<string, unknown>) => Coerced;

/** A planned document's subscription: its root field, and each chunk's result. */
interface Plan {
  chunk: ChunkPlan;
  operation: OperationDefinitionNode;
  root: FieldNode;
  rootKey: string;
  rootType: GraphQLObjectType;
  field: GraphQLField<unknown, unknown>;
  /** The subscriptions so far, then graphql-jit's coercion of the variables (null: none). */
  coerce: number | Coercion | null;
}

function planOf(schema: GraphQLSchema, operation: OperationDefinitionNode): Plan | undefined {
  if (operation.operation !== 'subscription' || operation.directives?.length) return undefined;
  const [root, ...more] = operation.selectionSet.selections;
  if (!root || more.length || root.kind !== Kind.FIELD || root.directives?.length) return undefined;
  if (root.name.value !== 'completionStream' || !root.selectionSet) return undefined;
  const rootType = schema.getSubscriptionType();
  const field = rootType?.getFields().completionStream;
  const chunkType = field && getNamedType(field.type);
  if (!rootType || !field?.subscribe || !chunkType || !('getFields' in chunkType)) return undefined;
  const fields = chunkType.getFields();
  const leaves: Leaf[] = [];
  const keys = new Set<string>();
  for (const selection of root.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length || selection.selectionSet)
      return undefined;
    const name = selection.name.value;
    const key = (selection.alias ?? selection.name).value;
    if (keys.has(key)) return undefined;
    keys.add(key);
    if (name === '__typename') {
      leaves.push({ key, name, type: undefined as never, nonNull: true });
      continue;
    }
    const field = fields[name];
    const leafType = field && getNamedType(field.type);
    if (!field || !leafType || !isLeafType(leafType)) return undefined;
    leaves.push({ key, name, type: leafType, nonNull: isNonNullType(field.type) });
  }
  const rootKey = (root.alias ?? root.name).value;
  const typeName = chunkType.name;
  const chunk: ChunkPlan = (chunk) => {
    if (typeof chunk !== 'object' || chunk === null || chunk instanceof Error) return undefined;
    const source = chunk as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const leaf of leaves) {
      if (leaf.name === '__typename') {
        out[leaf.key] = typeName;
        continue;
      }
      const value = source[leaf.name];
      if (value == null) {
        if (leaf.nonNull) return undefined;
        out[leaf.key] = null;
        continue;
      }
      out[leaf.key] = leaf.type.serialize(value);
    }
    return { data: { [rootKey]: out } };
  };
  return { chunk, operation, root, rootKey, rootType, field, coerce: 0 };
}

/** The plans of each document, by operation name; null where graphql-js runs every event. */
const plans = new WeakMap<DocumentNode, Map<string | null, Plan | null>>();

function cachedPlan(args: ExecutionArgs): Plan | null {
  let byName = plans.get(args.document);
  if (!byName) plans.set(args.document, (byName = new Map()));
  const name = args.operationName ?? null;
  let plan = byName.get(name);
  if (plan === undefined) {
    const operations = args.document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    const fragments = args.document.definitions.length !== operations.length;
    const operation =
      name === null
        ? operations.length === 1
          ? operations[0]
          : undefined
        : operations.find((o) => o.name?.value === name);
    plan = (!fragments && operation && planOf(args.schema, operation)) || null;
    byName.set(name, plan);
  }
  return plan;
}

/**
 * The operation's variables coerced: graphql-jit's compiled coercion once the document has
 * run `compileAfter` times (compiling costs a few milliseconds, a thousand coercions' saving),
 * graphql-js's `getVariableValues` before that and for the errors.
 */
function coerce(plan: Plan, args: ExecutionArgs): Coerced {
  const inputs = (args.variableValues ?? {}) as Record<string, unknown>;
  const definitions = plan.operation.variableDefinitions ?? [];
  if (typeof plan.coerce === 'number') {
    const jit = plan.coerce >= compileAfter ? compiler() : undefined;
    if (!jit) plan.coerce++;
    else {
      try {
        plan.coerce = jit.compileVariableParsing(args.schema, definitions) as Coercion;
      } catch {
        plan.coerce = null;
      }
    }
  }
  const coerced = typeof plan.coerce === 'function' ? plan.coerce(inputs) : undefined;
  if (coerced && !coerced.errors) return coerced;
  // graphql-js's answer (its messages, as every edge gives them), as `createSourceEventStream`.
  return getVariableValues(args.schema, definitions, inputs, { maxErrors: 50 }) as Coerced;
}

/** The source event stream of `createSourceEventStream`, from the plan's root field. */
async function sourceOf(
  plan: Plan,
  args: ExecutionArgs,
): Promise<AsyncIterable<unknown> | ExecutionResult> {
  const variables = coerce(plan, args);
  if (variables.errors) return { errors: variables.errors as GraphQLError[] };
  const { coerced } = variables as { coerced: Record<string, unknown> };
  const { root, rootKey, rootType, field } = plan;
  const info: GraphQLResolveInfo = {
    fieldName: field.name,
    fieldNodes: [root],
    returnType: field.type,
    parentType: rootType,
    path: { prev: undefined, key: rootKey, typename: rootType.name },
    schema: args.schema,
    fragments: {},
    rootValue: args.rootValue,
    operation: plan.operation,
    variableValues: coerced,
  };
  let stream: unknown;
  try {
    const values = getArgumentValues(field, root, coerced);
    stream = await field.subscribe!(args.rootValue, values, args.contextValue, info);
    if (stream instanceof Error) throw stream;
  } catch (error) {
    return { errors: [locatedError(error, [root], [rootKey])] };
  }
  if (!isAsyncIterableOf(stream)) throw new Error('Subscription field must return Async Iterable.');
  return stream;
}

/**
 * The source stream's events mapped to results (a result at hand is not awaited: a planned
 * chunk costs no extra turn of the microtask queue); return() reaches the source at once.
 */
function mapEvents(
  source: AsyncIterable<unknown>,
  map: (event: unknown) => ExecutionResult | Promise<ExecutionResult>,
  onError: (error: unknown) => unknown = (error) => error,
): AsyncIterableIterator<ExecutionResult> {
  const inner = source[Symbol.asyncIterator]();
  return {
    async next() {
      try {
        const next = await inner.next();
        if (next.done) return { done: true, value: undefined };
        try {
          const value = map(next.value);
          return { done: false, value: value instanceof Promise ? await value : value };
        } catch (error) {
          await inner.return?.();
          throw error;
        }
      } catch (error) {
        throw onError(error);
      }
    },
    async return() {
      await inner.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await inner.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Yoga's test for an abort, which its masking lets through unmasked. */
const isAbortError = (error: unknown): boolean =>
  typeof error === 'object' &&
  error?.constructor?.name === 'DOMException' &&
  ((error as Error).name === 'AbortError' || (error as Error).name === 'TimeoutError');

/**
 * A planned document's subscription without envelop, each event's errors masked by `mask`
 * (Yoga's masking, as its plugin applies it to every event and to an error thrown mid-stream;
 * an abort goes through as it is); undefined when the document has no plan. A result instead
 * of a stream (the subscription refused before it began) is unmasked: envelop's hooks shape it
 * (`takeSettled`).
 */
export function subscribeDirectly(
  args: ExecutionArgs,
  mask: (error: unknown) => Error,
): Promise<AsyncIterable<ExecutionResult> | ExecutionResult> | undefined {
  const plan = cachedPlan(args);
  if (!plan) return undefined;
  return sourceOf(plan, args).then((source) => {
    if (!isAsyncIterableOf(source)) return source;
    const masked = (event: unknown): ExecutionResult | Promise<ExecutionResult> => {
      const planned = plan.chunk(event);
      if (planned) return planned;
      return Promise.resolve(execute({ ...args, rootValue: event })).then((result) =>
        result.errors ? { ...result, errors: result.errors.map(mask) as never } : result,
      );
    };
    return mapEvents(source, masked, (error) => (isAbortError(error) ? error : mask(error)));
  });
}

/**
 * Subscriptions of a planned document: graphql-js's source stream, each event's result from the
 * plan (graphql-js's `execute` for what the plan leaves). Others keep Yoga's subscribe. A result
 * the direct path already made (`settleWith`) is given back instead.
 */
export const useChunkPlans: Plugin = {
  onSubscribe({ args, setSubscribeFn }) {
    const plan = cachedPlan(args);
    if (!plan) return;
    setSubscribeFn(async (subscribeArgs: ExecutionArgs) => {
      const settled = takeSettled(subscribeArgs.contextValue);
      if (settled) return settled;
      const source = await createSourceEventStream(subscribeArgs);
      if (!isAsyncIterableOf(source)) return source;
      return mapEvents(
        source,
        (event) => plan.chunk(event) ?? execute({ ...subscribeArgs, rootValue: event }),
      );
    });
  },
};

const isAsyncIterableOf = (value: unknown): value is AsyncIterable<unknown> =>
  typeof (value as { [Symbol.asyncIterator]?: unknown })?.[Symbol.asyncIterator] === 'function';
