/** Placeholder until the anthropic adapter lands. */
import { UpstreamError } from '../gateway/errors.js';
import type { HttpAdapter } from './types.js';

const notYet = (): never => {
  throw new UpstreamError({ kind: 'bad_request', message: 'the anthropic adapter is not implemented yet' });
};

export const anthropicAdapter: HttpAdapter = {
  defaultBaseUrl: undefined,
  authHeaders: () => ({}),
  chatRequest: notYet,
  parseChatResponse: notYet,
  parseChatStream: notYet,
  parseError: notYet,
};
