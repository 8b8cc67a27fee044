/**
 * A validation rule capping the upstream calls one document can make: every `complete` and
 * `completionStream` field in the operation is one, so an operation with more than `max` of
 * them is refused before anything runs (1,000 aliases of `complete` were 1,000 calls).
 */
import {
  GraphQLError,
  Kind,
  type FieldNode,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';

/** The fields that call a provider. Both are root fields (Mutation and Subscription). */
const calling = new Set(['complete', 'completionStream']);

export function maxCompletionsRule(max: number): ValidationRule {
  return (context) => ({
    OperationDefinition(operation) {
      // Fields merge by response key, and execution visits a fragment once per selection set
      // (graphql-js's collectFields): counted the same way, `{ ...A ...A }` is one call, not two,
      // and a fragment spread any number of times is read once (no blow-up on fan-out).
      const calls = new Map<string, FieldNode>();
      const read = new Set<string>();
      const collect = (selectionSet: SelectionSetNode) => {
        for (const selection of selectionSet.selections) {
          if (selection.kind === Kind.FIELD) {
            if (calling.has(selection.name.value))
              calls.set((selection.alias ?? selection.name).value, selection);
          } else if (selection.kind === Kind.INLINE_FRAGMENT) {
            collect(selection.selectionSet);
          } else if (!read.has(selection.name.value)) {
            read.add(selection.name.value);
            const fragment = context.getFragment(selection.name.value);
            if (fragment) collect(fragment.selectionSet);
          }
        }
      };
      collect(operation.selectionSet);
      if (calls.size <= max) return;
      context.reportError(
        new GraphQLError(
          `the operation asks for ${calls.size} completions (complete or completionStream); ` +
            `at most ${max} are allowed (server.graphql.maxCompletionsPerOperation)`,
          // Located at the first field past the cap (a thousand locations help nobody).
          { nodes: [...calls.values()][max] },
        ),
      );
    },
  });
}
