/**
 * Gives every request-level error a code, as Apollo does: GRAPHQL_PARSE_FAILED,
 * GRAPHQL_VALIDATION_FAILED, and BAD_USER_INPUT for variables of the wrong type, so clients
 * can tell them apart without reading messages.
 */
import type { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

function withCode(error: GraphQLError, code: string): GraphQLError {
  if (error.extensions?.code) return error;
  return createGraphQLError(error.message, {
    ...(error.nodes && { nodes: error.nodes }),
    ...(error.source && { source: error.source }),
    ...(error.positions && { positions: error.positions }),
    ...(error.path && { path: error.path }),
    extensions: { ...error.extensions, code },
  });
}

const isVariableError = (error: GraphQLError) => error.message.startsWith('Variable "$');

export function useErrorCodes(): Plugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof Error && 'extensions' in result) {
          const marked = withCode(result as GraphQLError, 'GRAPHQL_PARSE_FAILED');
          // A request error: 400 over HTTP, as Yoga marks it, but Yoga only when the context
          // has a fetch Request. The transport's operations have none, and the parse cache is
          // shared by every edge, so it is marked here, whoever parsed first.
          (marked.extensions as Record<string, unknown>).http ??= { spec: true, status: 400 };
          replaceParseResult(marked);
        }
      };
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length > 0)
          setResult(result.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED')));
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.some(isVariableError)) return;
          setResult({
            ...result,
            errors: result.errors.map((e) =>
              isVariableError(e) ? withCode(e, 'BAD_USER_INPUT') : e,
            ),
          });
        },
      };
    },
  };
}
