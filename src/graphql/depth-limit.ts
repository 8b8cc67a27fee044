/** A validation rule refusing selections nested deeper than `max` (fragments followed). */
import {
  GraphQLError,
  Kind,
  type ASTNode,
  type FragmentDefinitionNode,
  type ValidationRule,
} from 'graphql';

export function depthLimit(max: number): ValidationRule {
  return (context) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION)
        fragments.set(definition.name.value, definition);
    }

    const depthOf = (node: ASTNode, depth: number, seen: Set<string>): number => {
      if (node.kind === Kind.FIELD) {
        if (!node.selectionSet) return depth;
        depth += 1;
      }
      if (node.kind === Kind.FRAGMENT_SPREAD) {
        const name = node.name.value;
        const fragment = fragments.get(name);
        if (!fragment || seen.has(name)) return depth;
        return depthOf(fragment, depth, new Set(seen).add(name));
      }
      if ('selectionSet' in node && node.selectionSet) {
        let deepest = depth;
        for (const selection of node.selectionSet.selections) {
          deepest = Math.max(deepest, depthOf(selection, depth, seen));
          if (deepest > max) break;
        }
        return deepest;
      }
      return depth;
    };

    return {
      OperationDefinition(operation) {
        const depth = depthOf(operation, 0, new Set());
        if (depth > max) {
          context.reportError(
            new GraphQLError(
              `the query is nested ${depth} levels deep; at most ${max} are allowed`,
              {
                nodes: [operation],
                extensions: { code: 'QUERY_TOO_DEEP' },
              },
            ),
          );
        }
      },
    };
  };
}
