/**
 * Gemini's error bodies (`{error: {code, message, status, details}}`, google.rpc.Status) →
 * UpstreamError. Parsed loosely: every field is optional and the body may not be JSON at all.
 * @see https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
 */
import { UpstreamError, kindOfStatus, type UpstreamErrorKind } from '../gateway/errors.js';
import { parseDuration, parseRetryAfterMs } from './retry-after.js';
import type { HttpErrorResponse } from './types.js';

export interface GeminiErrorDetail {
  '@type'?: string;
  reason?: string;
  retryDelay?: string;
  violations?: { quotaId?: string }[];
}

export interface GeminiError {
  code?: number;
  message?: string;
  status?: string;
  details?: GeminiErrorDetail[];
}

/** The `error` of a body, whether it is an object or (non-SSE streams) an array of them. */
export function geminiErrorOf(json: unknown): GeminiError | undefined {
  const body: unknown = Array.isArray(json) ? json[0] : json;
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = body.error;
  return typeof error === 'object' && error !== null ? (error as GeminiError) : undefined;
}

const hasReason = (error: GeminiError, reason: string): boolean =>
  (error.details ?? []).some((detail) => detail?.reason === reason);

/** A 429 whose every violated quota is a daily one will not clear in seconds. */
function isDailyQuota(error: GeminiError): boolean {
  const quotaIds = (error.details ?? [])
    .flatMap((detail) => detail?.violations ?? [])
    .map((violation) => violation?.quotaId ?? '');
  return quotaIds.length > 0 && quotaIds.every((id) => id.includes('PerDay'));
}

/**
 * The google.rpc status string decides; the HTTP code when it is missing.
 * @see https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
 */
export function mapGeminiErrorKind(error: GeminiError, httpStatus: number): UpstreamErrorKind {
  if (hasReason(error, 'API_KEY_INVALID') || hasReason(error, 'API_KEY_EXPIRED')) return 'auth';
  switch (error.status) {
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return 'auth';
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'NOT_FOUND':
    case 'OUT_OF_RANGE':
      return 'bad_request';
    case 'RESOURCE_EXHAUSTED':
      return isDailyQuota(error) ? 'quota' : 'rate_limited';
    case 'UNAVAILABLE':
      return 'overloaded';
    case 'DEADLINE_EXCEEDED':
      return 'timeout';
    case 'INTERNAL':
    case 'UNKNOWN':
      return 'server';
    default:
      return kindOfStatus(error.code ?? httpStatus);
  }
}

/** `RetryInfo.retryDelay` is a protobuf Duration in JSON: `"13s"`, `"34.4s"`. */
function retryDelayMs(error: GeminiError): number | undefined {
  for (const detail of error.details ?? []) {
    if (typeof detail?.retryDelay === 'string') return parseDuration(detail.retryDelay);
  }
  return undefined;
}

function errorFrom(
  error: GeminiError,
  status: number,
  body: string,
  retryAfterMs: number | undefined,
): UpstreamError {
  const code = error.status ? ` ${error.status}` : '';
  const message = error.message ?? 'no message';
  return new UpstreamError({
    kind: mapGeminiErrorKind(error, status),
    message: `gemini ${status}${code}: ${message}`,
    status,
    retryAfterMs: retryAfterMs ?? retryDelayMs(error),
    body,
  });
}

export function parseGeminiError(response: HttpErrorResponse): UpstreamError {
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    json = undefined;
  }
  const retryAfterMs = parseRetryAfterMs(response.headers);
  const error = geminiErrorOf(json);
  if (error) return errorFrom(error, response.status, response.body, retryAfterMs);
  const text = response.body.trim().slice(0, 200);
  return new UpstreamError({
    kind: kindOfStatus(response.status),
    message: `gemini ${response.status}${text ? `: ${text}` : ''}`,
    status: response.status,
    retryAfterMs,
    body: response.body,
  });
}

/** An `{error}` object sent inside a stream; its `code` is the status it would have had. */
export function geminiStreamError(error: GeminiError, data: string): UpstreamError {
  return errorFrom(error, error.code ?? 500, data, undefined);
}
