/**
 * The gateway's errors. A GatewayError is what it refuses or fails a request with; each edge
 * maps it in one place (GraphQL: `graphql/errors.ts`, REST: `rest/errors.ts`). An UpstreamError
 * is how a provider adapter reports a failed call: the call loop (`call.ts`) and the relay wrap
 * it into a GatewayError before it leaves the gateway. A client that left ends its request with
 * the signal's AbortError, which is no one's fault to report.
 */
import { maskSecrets } from '../redact.js';

export const ErrorCodes = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  RATE_LIMITED: 'RATE_LIMITED',
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const gatewayErrorMarker = Symbol.for('conduit.GatewayError');
const upstreamErrorMarker = Symbol.for('conduit.UpstreamError');

export class GatewayError extends Error {
  readonly [gatewayErrorMarker] = true;
  override readonly name = 'GatewayError';
  readonly code: ErrorCode;
  /** Extra fields the edges expose: `field`, `retryAfterSeconds`, `attempts`, `budgetUsd`… */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  static isInstance(error: unknown): error is GatewayError {
    return typeof error === 'object' && error !== null && gatewayErrorMarker in error;
  }
}

export const badInput = (field: string, message: string): GatewayError =>
  new GatewayError(ErrorCodes.BAD_USER_INPUT, message, { field });

/** How an upstream call failed; decides retrying and the code the client sees. */
export const UpstreamErrorKinds = [
  'auth',
  'bad_request',
  'rate_limited',
  'quota',
  'overloaded',
  'server',
  'timeout',
  'connection',
  'stream',
] as const;
export type UpstreamErrorKind = (typeof UpstreamErrorKinds)[number];

const retryableKinds: ReadonlySet<UpstreamErrorKind> = new Set([
  'rate_limited',
  'overloaded',
  'server',
  'timeout',
  'connection',
  'stream',
]);

/**
 * A failed upstream call, as a provider adapter reports it. Its message is upstream text, so
 * credential-shaped strings in it are masked here, once, whoever reads it later (the call loop
 * also masks the config's own secrets, and the body). The raw body is kept for the call loop,
 * which masks it, and never shown to clients.
 */
export class UpstreamError extends Error {
  readonly [upstreamErrorMarker] = true;
  override readonly name = 'UpstreamError';
  readonly kind: UpstreamErrorKind;
  readonly status: number | undefined;
  /** The delay the upstream asked for (retry-after and friends). */
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
  readonly body: string | undefined;

  constructor(options: {
    kind: UpstreamErrorKind;
    message: string;
    status?: number;
    retryAfterMs?: number;
    retryable?: boolean;
    body?: string;
    cause?: unknown;
  }) {
    super(maskSecrets(options.message), { cause: options.cause });
    this.kind = options.kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? retryableKinds.has(options.kind);
    this.body = options.body;
  }

  static isInstance(error: unknown): error is UpstreamError {
    return typeof error === 'object' && error !== null && upstreamErrorMarker in error;
  }
}

/** The kind an HTTP status means, for providers whose body says no more. */
export function kindOfStatus(status: number): UpstreamErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 500) return 'server';
  return 'bad_request';
}
