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
 */
import {
  createSourceEventStream,
  execute,
  getNamedType,
  isLeafType,
  isNonNullType,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLLeafType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

interface Leaf {
  key: string;
  name: string;
  type: GraphQLLeafType;
  nonNull: boolean;
}

/** A chunk's result, or undefined when graphql-js must make it. */
type ChunkPlan = (chunk: unknown) => ExecutionResult | undefined;

function planOf(schema: GraphQLSchema, operation: OperationDefinitionNode): ChunkPlan | undefined {
  if (operation.operation !== 'subscription' || operation.directives?.length) return undefined;
  const [root, ...more] = operation.selectionSet.selections;
  if (!root || more.length || root.kind !== Kind.FIELD || root.directives?.length) return undefined;
  if (root.name.value !== 'completionStream' || !root.selectionSet) return undefined;
  const type = schema.getSubscriptionType()?.getFields().completionStream?.type;
  const chunkType = type && getNamedType(type);
  if (!chunkType || !('getFields' in chunkType)) return undefined;
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
  return (chunk) => {
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
}

/** The plans of each document, by operation name; null where graphql-js runs every event. */
const plans = new WeakMap<DocumentNode, Map<string | null, ChunkPlan | null>>();

function cachedPlan(args: ExecutionArgs): ChunkPlan | null {
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

/** The source stream's events mapped to results; return() reaches the source at once. */
function mapEvents(
  source: AsyncIterable<unknown>,
  map: (event: unknown) => ExecutionResult | Promise<ExecutionResult>,
): AsyncIterableIterator<ExecutionResult> {
  const inner = source[Symbol.asyncIterator]();
  return {
    async next() {
      const next = await inner.next();
      if (next.done) return { done: true, value: undefined };
      try {
        return { done: false, value: await map(next.value) };
      } catch (error) {
        await inner.return?.();
        throw error;
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

/**
 * Subscriptions of a planned document: graphql-js's source stream, each event's result from the
 * plan (graphql-js's `execute` for what the plan leaves). Others keep Yoga's subscribe.
 */
export const useChunkPlans: Plugin = {
  onSubscribe({ args, setSubscribeFn }) {
    const plan = cachedPlan(args);
    if (!plan) return;
    setSubscribeFn(async (subscribeArgs: ExecutionArgs) => {
      const source = await createSourceEventStream(subscribeArgs);
      if (!isAsyncIterableOf(source)) return source;
      return mapEvents(
        source,
        (event) => plan(event) ?? execute({ ...subscribeArgs, rootValue: event }),
      );
    });
  },
};

const isAsyncIterableOf = (value: unknown): value is AsyncIterable<unknown> =>
  typeof (value as { [Symbol.asyncIterator]?: unknown })?.[Symbol.asyncIterator] === 'function';
