/**
 * `POST /v1/embeddings` for the providers that make them (OpenAI, Gemini, Mistral,
 * OpenAI-compatible): the gateway's Embeddings → OpenAI's `list` of `embedding` objects, as
 * floats or, when asked (the openai SDK asks by default), as base64 of little-endian float32.
 *
 * @see https://platform.openai.com/docs/api-reference/embeddings/object
 */
import type { Caller, Embeddings } from '../gateway/types.js';
import type { ClientSignal } from '../gateway/gateway.js';
import type { Services } from '../services.js';
import { conduitHeaders, toEmbeddingCall, type Reply } from './convert.js';

export async function createEmbeddings(
  services: Services,
  caller: Caller,
  body: unknown,
  signal: ClientSignal,
): Promise<Reply> {
  const { request, base64 } = toEmbeddingCall(body);
  const result = await services.gateway.embed(request, caller, signal);
  return {
    status: 200,
    headers: conduitHeaders(result.provider, false, result.id),
    body: toEmbeddingList(result, base64),
  };
}

export function toEmbeddingList(result: Embeddings, base64 = false) {
  return {
    object: 'list',
    data: result.embeddings.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? float32Base64(vector) : vector,
    })),
    model: result.model,
    usage: { prompt_tokens: result.usage.promptTokens, total_tokens: result.usage.totalTokens },
  };
}

/** Numbers → the base64 of their float32 values, little-endian, as OpenAI sends them. */
export function float32Base64(vector: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString('base64');
}
