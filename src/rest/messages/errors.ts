/**
 * The one mapping from what the gateway throws to Anthropic's error shape and statuses, for the
 * `/v1/messages` routes: `{"type": "error", "error": {"type", "message"}, "request_id"}`.
 *
 * @see https://docs.claude.com/en/api/errors
 */
import { ErrorCodes, GatewayError, UpstreamError } from '../../gateway/errors.js';
import { maskSecrets } from '../../redact.js';
import { toOpenAIParam } from '../errors.js';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id: string | null;
}

export interface AnthropicErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: AnthropicErrorBody;
}

/** An error response built by hand (unknown route, unreadable body…). */
export function anthropicError(
  status: number,
  type: string,
  message: string,
): AnthropicErrorResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: { type: 'error', error: { type, message }, request_id: null },
  };
}

/** Anything thrown on a `/v1/messages` route → status, headers and body. */
export function toAnthropicError(error: unknown): AnthropicErrorResponse {
  if (GatewayError.isInstance(error)) return fromGatewayError(error);
  if (UpstreamError.isInstance(error))
    return noRetry(anthropicError(500, 'api_error', error.message));
  return anthropicError(500, 'api_error', 'internal error');
}

function fromGatewayError(error: GatewayError): AnthropicErrorResponse {
  const message = maskSecrets(error.message);
  switch (error.code) {
    case ErrorCodes.UNAUTHENTICATED:
      return anthropicError(401, 'authentication_error', message);
    case ErrorCodes.FORBIDDEN:
      return anthropicError(403, 'permission_error', message);
    case ErrorCodes.BAD_USER_INPUT: {
      const field =
        typeof error.details.field === 'string' ? toOpenAIParam(error.details.field) : undefined;
      const text =
        typeof field === 'string' && !message.startsWith(field) ? `${field}: ${message}` : message;
      return anthropicError(400, 'invalid_request_error', text);
    }
    case ErrorCodes.RATE_LIMITED: {
      const response = anthropicError(429, 'rate_limit_error', message);
      const seconds = Number(error.details.retryAfterSeconds);
      response.headers['retry-after'] = String(
        Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 1,
      );
      return response;
    }
    case ErrorCodes.BUDGET_EXCEEDED:
      // As Anthropic answers a spent limit: a 429 that retrying cannot help before the period ends.
      return noRetry(anthropicError(429, 'rate_limit_error', message));
    case ErrorCodes.UPSTREAM_ERROR:
      // The gateway has already retried and fallen back: the SDK's own retries would repeat it.
      return noRetry(anthropicError(500, 'api_error', message));
    case ErrorCodes.UPSTREAM_TIMEOUT:
      return noRetry(anthropicError(504, 'timeout_error', message));
    default:
      return anthropicError(500, 'api_error', message);
  }
}

/** The Anthropic SDKs read `x-should-retry: false` and give up at once. */
function noRetry(response: AnthropicErrorResponse): AnthropicErrorResponse {
  response.headers['x-should-retry'] = 'false';
  return response;
}

/** The `error` event that ends a stream that failed after it began. */
export function streamErrorData(error: unknown): string {
  const { body } = toAnthropicError(error);
  return JSON.stringify({ type: 'error', error: body.error });
}
