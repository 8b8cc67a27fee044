/** Placeholder until the gemini adapter lands. */
import { UpstreamError } from '../gateway/errors.js';
import type { HttpAdapter } from './types.js';

const notYet = (): never => {
  throw new UpstreamError({ kind: 'bad_request', message: 'the gemini adapter is not implemented yet' });
};

export const geminiAdapter: HttpAdapter = {
  defaultBaseUrl: undefined,
  authHeaders: () => ({}),
  chatRequest: notYet,
  parseChatResponse: notYet,
  parseChatStream: notYet,
  parseError: notYet,
};
