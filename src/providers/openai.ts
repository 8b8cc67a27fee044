/**
 * OpenAI Chat Completions, and the servers that copy its wire (Ollama, vLLM): the two adapters
 * differ only in where they call, how they send the token limit and when they authenticate.
 * The translation lives in openai-request/-response/-stream/-errors/-embeddings.ts, which
 * Mistral reuses.
 *
 * @see https://platform.openai.com/docs/api-reference/chat
 */
import { convertToOpenAIChatBody, mapOpenAIToolChoice } from './openai-request.js';
import { openAIEmbeddings } from './openai-embeddings.js';
import { parseOpenAIError } from './openai-errors.js';
import { openaiResponsesWire } from './openai-responses.js';
import { mapOpenAIFinishReason, parseOpenAIChatResponse } from './openai-response.js';
import { parseOpenAIChatStream } from './openai-stream.js';
import type { OpenAIDialect } from './openai-wire.js';
import type { HttpAdapter } from './types.js';

/** `Authorization: Bearer` when there is a key; keyless servers (Ollama) get no header. */
export const bearerAuth = (key: string | undefined): Record<string, string> =>
  key ? { authorization: `Bearer ${key}` } : {};

/** The adapter for one dialect of the OpenAI wire. */
export function createOpenAIAdapter(
  dialect: OpenAIDialect,
  defaultBaseUrl: string | undefined,
): HttpAdapter {
  return {
    defaultBaseUrl,
    authHeaders: bearerAuth,
    chatRequest: (request, options) => ({
      path: '/chat/completions',
      body: convertToOpenAIChatBody(request, options, dialect),
    }),
    parseChatResponse: (json, context) => parseOpenAIChatResponse(json, context, dialect),
    parseChatStream: (events, context) => parseOpenAIChatStream(events, context, dialect),
    parseError: (response) => parseOpenAIError(response, dialect.label),
    embeddings: openAIEmbeddings(dialect),
  };
}

const openaiDialect: OpenAIDialect = {
  label: 'OpenAI',
  // `max_tokens` is deprecated and refused by reasoning models.
  maxTokensField: 'max_completion_tokens',
  streamOptions: true,
  mapToolChoice: mapOpenAIToolChoice,
  mapFinishReason: mapOpenAIFinishReason,
  toolResultName: false,
  requireToolParameters: false,
  dimensionsField: 'dimensions',
};

/** OpenAI itself also takes a client's own Responses body as is (`openai-responses.ts`). */
export const openaiAdapter: HttpAdapter = {
  ...createOpenAIAdapter(openaiDialect, 'https://api.openai.com/v1'),
  native: openaiResponsesWire,
};

/** Ollama, vLLM and friends know `max_tokens` only; their baseUrl must be configured. */
export const openaiCompatibleAdapter: HttpAdapter = createOpenAIAdapter(
  { ...openaiDialect, label: 'OpenAI-compatible server', maxTokensField: 'max_tokens' },
  undefined,
);
