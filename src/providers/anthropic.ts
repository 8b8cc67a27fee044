/**
 * The Anthropic Messages API adapter: where to call (`POST {baseUrl}/messages`, `x-api-key` and
 * `anthropic-version`) and how to translate, split by verb into the anthropic-*.ts modules; and
 * the pass-through of a client's own Messages body (`native`).
 *
 * @see https://docs.claude.com/en/api/messages
 */
import { parseAnthropicError } from './anthropic-errors.js';
import { buildAnthropicRequest } from './anthropic-request.js';
import { parseAnthropicResponse } from './anthropic-response.js';
import { parseAnthropicStream } from './anthropic-stream.js';
import type { HttpAdapter } from './types.js';

/** The API version we speak: it still accepts `temperature` and `top_p`. */
export const anthropicVersion = '2023-06-01';

export const anthropicAdapter: HttpAdapter = {
  defaultBaseUrl: 'https://api.anthropic.com/v1',
  authHeaders: (key) => ({
    'anthropic-version': anthropicVersion,
    ...(key !== undefined && { 'x-api-key': key }),
  }),
  chatRequest: buildAnthropicRequest,
  parseChatResponse: parseAnthropicResponse,
  parseChatStream: parseAnthropicStream,
  parseError: parseAnthropicError,
  // A client's own `POST /v1/messages` body, as sent, with its API version and betas.
  native: {
    api: 'anthropic-messages',
    path: '/messages',
    maxTokensField: 'max_tokens',
    headers: (forwarded) => {
      const headers: Record<string, string> = {};
      for (const name of ['anthropic-version', 'anthropic-beta']) {
        const value = forwarded[name];
        if (value !== undefined) headers[name] = value;
      }
      return headers;
    },
    parseResponse: parseAnthropicResponse,
    parseStream: parseAnthropicStream,
  },
};
