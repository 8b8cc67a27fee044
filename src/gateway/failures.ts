/**
 * Failure ids: a failed request is recorded under its id (its usage row's), and the error thrown
 * to the edge carries that id without a field of its own, so the edges can name it (REST's
 * `x-request-id`, GraphQL's `extensions.requestId`) whatever threw it.
 */

/** The id of the failed request each thrown error was recorded under. */
const failedRequestIds = new WeakMap<object, string>();

/** Marks `error` as the failure recorded under `requestId`; returns it, for `throw`. */
export function withRequestId(error: unknown, requestId: string): unknown {
  if (typeof error === 'object' && error !== null) failedRequestIds.set(error, requestId);
  return error;
}

/** The request id a failure was recorded under, when the gateway recorded it. */
export const requestIdOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null ? failedRequestIds.get(error) : undefined;
