/**
 * The one mapping from what the gateway throws to OpenAI's error shape and HTTP status, for the
 * `/v1` routes: `{"error": {"message", "type", "param", "code"}}`.
 *
 * @see https://platform.openai.com/docs/guides/error-codes/api-errors
 */
import { ErrorCodes, GatewayError, UpstreamError, type ErrorCode } from '../gateway/errors.js';
import { maskSecrets } from '../redact.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface OpenAIErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: OpenAIErrorBody;
}

const json = 'application/json';

/** An error response built by hand (unknown route, unreadable body…). */
export function openAIError(
  status: number,
  message: string,
  options: { type?: string; code?: string | null; param?: string | null } = {},
): OpenAIErrorResponse {
  return {
    status,
    headers: { 'content-type': json },
    body: {
      error: {
        message,
        type: options.type ?? 'invalid_request_error',
        param: options.param ?? null,
        code: options.code ?? null,
      },
    },
  };
}

/** Anything thrown on a `/v1` route → status, headers and body. Unknown errors say nothing inside. */
export function toOpenAIError(error: unknown): OpenAIErrorResponse {
  if (GatewayError.isInstance(error)) return fromGatewayError(error);
  if (UpstreamError.isInstance(error)) {
    // The gateway wraps these; one reaching the edge is still the upstream's fault.
    return noRetry(
      openAIError(502, error.message, { type: 'server_error', code: 'upstream_error' }),
    );
  }
  return openAIError(500, 'internal error', { type: 'server_error', code: 'internal_error' });
}

function fromGatewayError(error: GatewayError): OpenAIErrorResponse {
  const { code, details } = error;
  // Upstream text was masked by the gateway; again here, whatever path it took.
  const message = maskSecrets(error.message);
  const param = typeof details.field === 'string' ? toOpenAIParam(details.field) : null;
  const status = statusOf(code);
  switch (code) {
    case ErrorCodes.UNAUTHENTICATED:
      return openAIError(status, message, { code: 'invalid_api_key' });
    case ErrorCodes.FORBIDDEN:
      return openAIError(status, message, { type: 'permission_error', code: 'forbidden', param });
    case ErrorCodes.BAD_USER_INPUT:
      return openAIError(status, message, { param });
    case ErrorCodes.RATE_LIMITED: {
      const response = openAIError(status, message, {
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
      });
      const seconds = Number(details.retryAfterSeconds);
      response.headers['retry-after'] = String(
        Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 1,
      );
      return response;
    }
    case ErrorCodes.BUDGET_EXCEEDED:
      // As OpenAI answers a spent quota; retrying cannot help before the period ends.
      return noRetry(
        openAIError(status, message, { type: 'insufficient_quota', code: 'insufficient_quota' }),
      );
    case ErrorCodes.UPSTREAM_ERROR:
      // The gateway has already retried and fallen back: the SDK's own retries would only repeat it.
      return noRetry(
        openAIError(status, message, { type: 'server_error', code: 'upstream_error' }),
      );
    case ErrorCodes.UPSTREAM_TIMEOUT:
      return noRetry(
        openAIError(status, message, { type: 'server_error', code: 'upstream_timeout' }),
      );
    default:
      return openAIError(500, message, { type: 'server_error' });
  }
}

/**
 * CONTRACT's status per code.
 * @see docs/contract.md (OpenAI-compatible REST)
 */
function statusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.UNAUTHENTICATED:
      return 401;
    case ErrorCodes.FORBIDDEN:
      return 403;
    case ErrorCodes.BAD_USER_INPUT:
      return 400;
    case ErrorCodes.RATE_LIMITED:
    case ErrorCodes.BUDGET_EXCEEDED:
      return 429;
    case ErrorCodes.UPSTREAM_ERROR:
      return 502;
    case ErrorCodes.UPSTREAM_TIMEOUT:
      return 504;
    default:
      return 500;
  }
}

/** The openai SDKs read `x-should-retry: false` and give up at once. */
function noRetry(response: OpenAIErrorResponse): OpenAIErrorResponse {
  response.headers['x-should-retry'] = 'false';
  return response;
}

/** ChatRequest's field names, as the gateway reports them, → OpenAI's parameter names. */
const paramNames: Readonly<Record<string, string>> = {
  topP: 'top_p',
  maxTokens: 'max_tokens',
  toolChoice: 'tool_choice',
  toolCalls: 'tool_calls',
  toolCallId: 'tool_call_id',
};
const camelNames = /topP|maxTokens|toolChoice|toolCalls|toolCallId/g;

/** `messages[2].toolCallId` → `messages[2].tool_call_id`. */
export function toOpenAIParam(field: string): string {
  return field.replace(camelNames, (name) => paramNames[name] ?? name);
}
