/**
 * The Gemini Developer API (AI Studio keys): `generateContent`,
 * `streamGenerateContent?alt=sse` and embeddings. Pure translation; the transport calls.
 * Requests: gemini-request.ts; answers: gemini-response.ts; errors: gemini-error.ts.
 * @see https://ai.google.dev/api/generate-content
 */
import { estimateTokens } from '../usage/tokens.js';
import { parseGeminiError } from './gemini-error.js';
import { chatRequest, embeddingRequest } from './gemini-request.js';
import { parseChatResponse, parseChatStream } from './gemini-response.js';
import type { EmbeddingCall, EmbeddingResult, HttpAdapter } from './types.js';

interface GeminiEmbeddings {
  embedding?: { values?: number[] };
  embeddings?: { values?: number[] }[];
}

/** The Gemini API reports no usage for embeddings: we estimate it. */
function parseEmbeddings(json: unknown, call: EmbeddingCall): EmbeddingResult {
  const body = (typeof json === 'object' && json !== null ? json : {}) as GeminiEmbeddings;
  const list = body.embeddings ?? (body.embedding ? [body.embedding] : []);
  const promptTokens = call.input.reduce((sum, text) => sum + estimateTokens(text), 0);
  return {
    model: call.model,
    embeddings: list.map((embedding) => embedding.values ?? []),
    usage: {
      promptTokens,
      completionTokens: 0,
      totalTokens: promptTokens,
      cachedPromptTokens: 0,
      estimated: true,
    },
  };
}

export const geminiAdapter: HttpAdapter = {
  defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
  authHeaders: (key): Record<string, string> => (key ? { 'x-goog-api-key': key } : {}),
  chatRequest,
  parseChatResponse,
  parseChatStream,
  parseError: parseGeminiError,
  embeddings: { request: embeddingRequest, parse: parseEmbeddings },
};
