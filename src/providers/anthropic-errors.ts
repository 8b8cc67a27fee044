/**
 * Anthropic error bodies (`{type:'error', error:{type, message}, request_id}`), answered with a
 * status or sent in-band as an SSE `error` event, → UpstreamError.
 *
 * @see https://docs.claude.com/en/api/errors
 */
import { kindOfStatus, UpstreamError, type UpstreamErrorKind } from '../gateway/errors.js';
import { parseRetryAfterMs } from './retry-after.js';
import type { HttpErrorResponse } from './types.js';

/** The loose shape of an error body: every field optional. */
interface AnthropicErrorBody {
  error?: { type?: string; message?: string; details?: { error_code?: string } };
  request_id?: string | null;
}

const spendLimitCodes = new Set(['enforced_spend_limit_reached', 'contract_spend_limit_reached']);

/** Loosely reads an error body; undefined when it is not JSON or not an object. */
export function readAnthropicErrorBody(body: string): AnthropicErrorBody | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? (value as AnthropicErrorBody) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `error.type` → our kind; undefined for a type we do not know (the status decides then).
 * @see https://docs.claude.com/en/api/errors#http-errors
 */
export function mapAnthropicErrorType(type: string | undefined): UpstreamErrorKind | undefined {
  switch (type) {
    case 'authentication_error':
    case 'permission_error':
      return 'auth';
    case 'billing_error':
      return 'quota';
    case 'invalid_request_error':
    case 'not_found_error':
    case 'request_too_large':
      return 'bad_request';
    case 'rate_limit_error':
      return 'rate_limited';
    case 'overloaded_error':
      return 'overloaded';
    case 'timeout_error':
      return 'timeout';
    case 'api_error':
      return 'server';
    default:
      return undefined;
  }
}

function kindOf(parsed: AnthropicErrorBody | undefined, status: number | undefined) {
  const error = parsed?.error;
  // Spend limits and an empty credit balance do not pass with retries.
  if (error?.details?.error_code && spendLimitCodes.has(error.details.error_code)) return 'quota';
  if (error?.message && /credit balance is too low/i.test(error.message)) return 'quota';
  return (
    mapAnthropicErrorType(error?.type) ?? (status === undefined ? 'server' : kindOfStatus(status))
  );
}

function describe(parsed: AnthropicErrorBody | undefined, body: string): string {
  const error = parsed?.error;
  const text = error?.message ?? (parsed ? '' : body.trim().slice(0, 200));
  const type = error?.type ? `${error.type}: ` : '';
  const requestId = parsed?.request_id ? ` (request ${parsed.request_id})` : '';
  return `${type}${text || 'no message'}${requestId}`;
}

/** An HTTP error response → UpstreamError, with the delay from `retry-after` and friends. */
export function parseAnthropicError(response: HttpErrorResponse): UpstreamError {
  const parsed = readAnthropicErrorBody(response.body);
  const kind = kindOf(parsed, response.status);
  const retryAfterMs = parseRetryAfterMs(response.headers);
  const shouldRetry = header(response.headers, 'x-should-retry');
  return new UpstreamError({
    kind,
    status: response.status,
    message: `anthropic ${response.status} ${describe(parsed, response.body)}`,
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    ...(shouldRetry === 'true' && { retryable: true }),
    ...(shouldRetry === 'false' && { retryable: false }),
    body: response.body,
  });
}

/** The data of an SSE `error` event (the status is already 200 by then) → UpstreamError. */
export function parseAnthropicStreamError(data: string): UpstreamError {
  const parsed = readAnthropicErrorBody(data);
  return new UpstreamError({
    kind: kindOf(parsed, undefined),
    message: `anthropic stream error ${describe(parsed, data)}`,
    body: data,
  });
}

function header(headers: HttpErrorResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
