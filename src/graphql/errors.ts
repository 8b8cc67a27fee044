/**
 * The one mapping from GatewayError to GraphQL: `extensions.code` plus the error's details.
 * Anything else is left to Yoga's masking ("Unexpected error.").
 */
import type { GraphQLError } from 'graphql';
import { createGraphQLError, maskError as yogaMaskError } from 'graphql-yoga';
import { ErrorCodes, GatewayError, type ErrorCode } from '../gateway/errors.js';

/** The HTTP status of a request-level error (one raised before execution, like auth). */
const httpStatus: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.UNAUTHENTICATED]: 401,
};

export function toGraphQLError(error: GatewayError, path?: GraphQLError['path']): GraphQLError {
  const status = httpStatus[error.code];
  return createGraphQLError(error.message, {
    ...(path && { path }),
    extensions: { ...error.details, code: error.code, ...(status && { http: { status } }) },
  });
}

export function maskError(error: unknown, message: string, isDev?: boolean): Error {
  // Duck-typed: GraphQLError may come from another copy of graphql (ESM and CJS side by side).
  const wrapped = error as Partial<Pick<GraphQLError, 'originalError' | 'path'>>;
  const original = wrapped?.originalError ?? error;
  if (GatewayError.isInstance(original)) return toGraphQLError(original, wrapped.path);
  return yogaMaskError(error, message, isDev);
}
