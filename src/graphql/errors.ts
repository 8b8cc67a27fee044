/**
 * The one mapping from GatewayError to GraphQL: `extensions.code` plus the error's details.
 * Anything else is left to Yoga's masking ("Unexpected error.").
 */
import type { GraphQLError } from 'graphql';
import { createGraphQLError, maskError as yogaMaskError } from 'graphql-yoga';
import { ErrorCodes, GatewayError, type ErrorCode } from '../gateway/errors.js';
import { requestIdOf } from '../gateway/gateway.js';
import { maskSecrets } from '../redact.js';

/** The HTTP status of a request-level error (one raised before execution, like auth). */
const httpStatus: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.UNAUTHENTICATED]: 401,
};

/**
 * Upstream text reaches a message or an attempt's error through the gateway, which masks it;
 * masked again here, so nothing credential-shaped leaves whatever path it took (a stream that
 * broke mid-way, say). The request id of a failed upstream call lets a tenant name it to an
 * operator.
 */
export function toGraphQLError(error: GatewayError, path?: GraphQLError['path']): GraphQLError {
  const status = httpStatus[error.code];
  const { attempts } = error.details;
  // Named where an upstream was called: that is the failure a tenant asks an operator about.
  const requestId = Array.isArray(attempts) ? requestIdOf(error) : undefined;
  return createGraphQLError(maskSecrets(error.message), {
    ...(path && { path }),
    extensions: {
      ...error.details,
      ...(Array.isArray(attempts) && { attempts: attempts.map(maskAttempt) }),
      code: error.code,
      ...(requestId && { requestId }),
      ...(status && { http: { status } }),
    },
  });
}

function maskAttempt(attempt: unknown): unknown {
  if (typeof attempt !== 'object' || attempt === null) return attempt;
  const { error } = attempt as { error?: unknown };
  return typeof error === 'string' ? { ...attempt, error: maskSecrets(error) } : attempt;
}

export function maskError(error: unknown, message: string, isDev?: boolean): Error {
  // Duck-typed: GraphQLError may come from another copy of graphql (ESM and CJS side by side).
  const wrapped = error as Partial<Pick<GraphQLError, 'originalError' | 'path'>>;
  const original = wrapped?.originalError ?? error;
  if (GatewayError.isInstance(original)) return toGraphQLError(original, wrapped.path);
  return yogaMaskError(error, message, isDev);
}
