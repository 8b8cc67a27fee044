/**
 * Limits on a GraphQL document, from `server.graphql`: graphql-armor's (tokens when parsed;
 * directives, aliases, cost and depth when validated; suggestions left out of messages) and the
 * completion cap. Parse and validation run before the context reads the caller's key, and
 * Yoga caches both per document, so a hostile document costs one linear pass (armor memoises
 * each fragment: fan-out is counted, not walked) and a repeat of it costs a cache lookup.
 *
 * A refusal is thrown by the rule (armor's `onReject`), which ends validation there: graphql-js's
 * rules spend no time on the rest of a document already refused. `useThrownRefusals`
 * turns it into a validation error, which Yoga answers as every other one (400 with
 * `application/graphql-response+json`, code GRAPHQL_VALIDATION_FAILED), whichever way it came:
 * POST, GET, the transport (`transport/http.ts`) or a WebSocket.
 */
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Config } from '../config/schema.js';
import { maxCompletionsRule } from './completion-limit.js';

export type DocumentLimits = Config['server']['graphql'];

type Setting = Exclude<keyof DocumentLimits, 'blockFieldSuggestions'>;

/**
 * armor's own message ("Syntax Error: Query depth limit of 15 exceeded, found 26.") without the
 * misleading prefix, and naming the setting that allows more.
 */
const refuse =
  (setting: Setting) =>
  (_context: unknown, error: GraphQLError): never => {
    const what = error.message.replace(/^Syntax Error: /, '').replace(/\.$/, '');
    throw new GraphQLError(`${what} (server.graphql.${setting}).`);
  };

/** A GraphQLError, from whichever copy of graphql made it (ESM and CJS may sit side by side). */
const isGraphQLError = (error: unknown): error is GraphQLError =>
  error instanceof Error && error.name === 'GraphQLError';

/**
 * A GraphQLError thrown while validating is the document's refusal: the validation result, so
 * that Yoga's validation hooks (status 400, code, cache) see it. Anything else is a fault and
 * stays thrown.
 */
const useThrownRefusals: Plugin = {
  onValidate({ validateFn, setValidationFn }) {
    setValidationFn((...args) => {
      try {
        return validateFn(...args);
      } catch (error) {
        if (isGraphQLError(error)) return [error];
        throw error;
      }
    });
  },
};

/** "Did you mean …?" in any form graphql-js writes it: fields, arguments, types, enum values. */
const suggestion = / ?Did you mean [^?]*\?/g;

function hideSuggestions(errors: readonly Error[] | undefined): void {
  // Mutated in place, as armor does: the errors may be cached, and this is idempotent.
  for (const error of errors ?? []) error.message = error.message.replace(suggestion, '');
}

/**
 * What armor's field-suggestion blocking leaves: its pattern misses graphql-js's "Did you mean
 * the enum value …?", and it sees validation only, not the variables coerced when the operation
 * runs (`Field "x" is not defined by type "CompletionInput". Did you mean "model"?`).
 */
const useNoSuggestions: Plugin = {
  onValidate:
    () =>
    ({ result }) =>
      hideSuggestions(result),
  onExecute: () => ({ onExecuteDone: ({ result }) => hideSuggestions(errorsOf(result)) }),
  onSubscribe: () => ({ onSubscribeResult: ({ result }) => hideSuggestions(errorsOf(result)) }),
};

const errorsOf = (result: unknown) =>
  isAsyncIterable(result) ? undefined : (result as ExecutionResult).errors;

export function useDocumentLimits(limits: DocumentLimits): Plugin[] {
  const armor = new EnvelopArmor({
    maxTokens: { n: limits.maxTokens, onReject: [refuse('maxTokens')] },
    maxDirectives: { n: limits.maxDirectives, onReject: [refuse('maxDirectives')] },
    maxAliases: { n: limits.maxAliases, onReject: [refuse('maxAliases')] },
    // Fragments flattened: depth and cost are those of the answer, a spread adds no level.
    // Introspection counts like any query (armor leaves everything under `__schema` out by
    // default, so a fan-out of fragments inside it would go unmeasured); GraphiQL's own
    // introspection query is 15 deep and costs about 15,600.
    costLimit: {
      maxCost: limits.maxCost,
      flattenFragments: true,
      ignoreIntrospection: false,
      onReject: [refuse('maxCost')],
    },
    maxDepth: {
      n: limits.maxDepth,
      flattenFragments: true,
      ignoreIntrospection: false,
      onReject: [refuse('maxDepth')],
    },
    blockFieldSuggestion: { enabled: limits.blockFieldSuggestions, mask: '' },
  });
  const completions = maxCompletionsRule(limits.maxCompletionsPerOperation);
  const limitCompletions: Plugin = {
    onValidate: ({ addValidationRule }) => addValidationRule(completions),
  };
  return [
    useThrownRefusals,
    ...(armor.protect().plugins as Plugin[]),
    limitCompletions,
    ...(limits.blockFieldSuggestions ? [useNoSuggestions] : []),
  ];
}
