/**
 * OpenAI-style error bodies → UpstreamError. Parsed loosely, because each server of this wire
 * words them differently:
 * - OpenAI: `{"error": {"message", "type", "param", "code"}}`
 * - vLLM: the same with a numeric `code`, or flat with `"object": "error"` (older releases)
 * - Mistral: flat `{"object": "error", "message", "type", "code"}`, where `message` may be a
 *   validation object; `{"message": "Unauthorized"}`; `{"detail": …}`
 * - proxies in front of any of them: plain text
 *
 * @see https://platform.openai.com/docs/guides/error-codes
 */
import { kindOfStatus, UpstreamError, type UpstreamErrorKind } from '../gateway/errors.js';
import { parseRetryAfterMs } from './retry-after.js';
import type { HttpErrorResponse } from './types.js';
import { isRecord } from './openai-wire.js';

export interface OpenAIErrorInfo {
  message: string | undefined;
  type: string | undefined;
  code: string | number | undefined;
}

/** The message, type and code of an error payload, wherever this server put them. */
export function readOpenAIError(payload: unknown): OpenAIErrorInfo {
  if (typeof payload === 'string') return { message: payload, type: undefined, code: undefined };
  if (!isRecord(payload)) return { message: undefined, type: undefined, code: undefined };
  const inner = isRecord(payload.error) ? payload.error : payload;
  const message =
    messageOf(inner.message) ??
    messageOf(inner.detail) ??
    (typeof payload.error === 'string' ? payload.error : undefined);
  const type = typeof inner.type === 'string' ? inner.type : undefined;
  const code =
    typeof inner.code === 'string' || typeof inner.code === 'number' ? inner.code : undefined;
  return { message, type, code };
}

/** A message as a string, a list of validation details, or an object holding either. */
function messageOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value || undefined;
  if (Array.isArray(value)) {
    const parts = value.map((item) => {
      if (!isRecord(item)) return String(item);
      const where = Array.isArray(item.loc) ? `${item.loc.join('.')}: ` : '';
      return typeof item.msg === 'string' ? where + item.msg : JSON.stringify(item);
    });
    return parts.join('; ') || undefined;
  }
  if (isRecord(value)) return messageOf(value.detail) ?? messageOf(value.message);
  return undefined;
}

/** True for a payload that is an error rather than a completion (in a 200 body or a stream). */
export function isOpenAIErrorPayload(payload: unknown): boolean {
  return isRecord(payload) && (Boolean(payload.error) || payload.object === 'error');
}

/**
 * The kind an error means: the body's type or code first (a 429 may be a spent quota, which
 * no retry fixes), then the status; in a stream, where there is no status, the type alone.
 */
export function kindOfOpenAIError(
  status: number | undefined,
  info: Pick<OpenAIErrorInfo, 'type' | 'code' | 'message'>,
): UpstreamErrorKind {
  const tags = [info.type, info.code].map((tag) => String(tag ?? '').toLowerCase());
  if (tags.includes('insufficient_quota')) return 'quota';
  if (status === 429 && /quota|usage limit|spending limit/i.test(info.message ?? '')) {
    return 'quota';
  }
  if (status !== undefined) return kindOfStatus(status);
  if (typeof info.code === 'number' && info.code >= 400) return kindOfStatus(info.code);
  for (const tag of tags) {
    const kind = kindOfErrorType(tag);
    if (kind) return kind;
  }
  return 'server';
}

/** @see https://platform.openai.com/docs/guides/error-codes/api-errors */
function kindOfErrorType(type: string): UpstreamErrorKind | undefined {
  switch (type) {
    case 'rate_limit_exceeded':
    case 'rate_limited':
    case 'tokens':
    case 'requests':
      return 'rate_limited';
    case 'overloaded':
    case 'overloaded_error':
    case 'service_unavailable':
    case 'service_tier_capacity_exceeded':
      return 'overloaded';
    case 'invalid_request_error':
    case 'badrequesterror':
    case 'not_found_error':
      return 'bad_request';
    case 'invalid_api_key':
    case 'authentication_error':
    case 'permission_error':
      return 'auth';
    case 'timeout':
      return 'timeout';
    case 'server_error':
    case 'internal_server_error':
      return 'server';
    default:
      return undefined;
  }
}

/** Masks anything that looks like an API key (OpenAI echoes part of a wrong one). */
export const redactKeys = (text: string): string => text.replace(/\bsk-[\w*…-]+/g, 'sk-***');

/** A failed HTTP status with its body → UpstreamError. */
export function parseOpenAIError(response: HttpErrorResponse, label: string): UpstreamError {
  let payload: unknown = response.body.trim();
  try {
    payload = JSON.parse(response.body);
  } catch {
    // Not JSON: a proxy's text page; the text is the message.
  }
  const info = readOpenAIError(payload);
  const detail = info.message ?? `HTTP ${response.status}`;
  return new UpstreamError({
    kind: kindOfOpenAIError(response.status, info),
    status: response.status,
    message: `${label} ${response.status}: ${redactKeys(detail.slice(0, 500))}`,
    retryAfterMs: parseRetryAfterMs(response.headers),
    body: response.body,
  });
}

/** An error that arrived inside a 200 answer or a stream → UpstreamError. */
export function inBandOpenAIError(payload: unknown, label: string, raw: string): UpstreamError {
  const info = readOpenAIError(payload);
  const status = typeof info.code === 'number' && info.code >= 400 ? info.code : undefined;
  return new UpstreamError({
    kind: kindOfOpenAIError(undefined, info),
    ...(status !== undefined && { status }),
    message: `${label} error: ${redactKeys((info.message ?? info.type ?? 'unknown').slice(0, 500))}`,
    body: raw,
  });
}
