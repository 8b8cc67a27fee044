/**
 * Embeddings over the OpenAI wire (`POST /embeddings`), which Mistral shares but for the name of
 * the size field. We ask for floats; a server that answers base64 anyway is decoded.
 *
 * @see https://platform.openai.com/docs/api-reference/embeddings/create
 * @see https://docs.mistral.ai/api/#tag/embeddings
 */
import { UpstreamError } from '../gateway/errors.js';
import { estimateTokens } from '../usage/tokens.js';
import { convertOpenAIUsage } from './openai-response.js';
import { isRecord, type OpenAIDialect, type WireUsage } from './openai-wire.js';
import type { EmbeddingCall, EmbeddingResult, HttpAdapter } from './types.js';

interface WireEmbeddings {
  model?: string;
  data?: { index?: number; embedding?: number[] | string }[];
  usage?: WireUsage | null;
}

export function openAIEmbeddings(dialect: OpenAIDialect): NonNullable<HttpAdapter['embeddings']> {
  return {
    request: (call: EmbeddingCall) => ({
      path: '/embeddings',
      body: {
        model: call.model,
        input: call.input,
        encoding_format: 'float',
        ...(call.dimensions !== undefined && { [dialect.dimensionsField]: call.dimensions }),
      },
    }),
    parse: (json: unknown, call: EmbeddingCall): EmbeddingResult =>
      parseEmbeddings(json, call, dialect.label),
  };
}

function parseEmbeddings(json: unknown, call: EmbeddingCall, label: string): EmbeddingResult {
  const body = (isRecord(json) ? json : {}) as WireEmbeddings;
  if (!Array.isArray(body.data) || body.data.length !== call.input.length) {
    throw new UpstreamError({
      kind: 'server',
      message: `${label} answered ${body.data?.length ?? 'no'} embeddings for ${call.input.length} inputs`,
      body: JSON.stringify(json),
    });
  }
  const ordered = [...body.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const embeddings = ordered.map((item) =>
    typeof item.embedding === 'string' ? decodeFloat32(item.embedding) : (item.embedding ?? []),
  );
  const counted = body.usage
    ? convertOpenAIUsage(body.usage).promptTokens
    : call.input.reduce((sum, text) => sum + estimateTokens(text), 0);
  return {
    model: body.model || call.model,
    embeddings,
    usage: {
      promptTokens: counted,
      completionTokens: 0,
      totalTokens: counted,
      cachedPromptTokens: 0,
      estimated: !body.usage,
    },
  };
}

/** Base64 of little-endian float32s → numbers. */
function decodeFloat32(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.byteLength; i += 4) out.push(view.getFloat32(i, true));
  return out;
}
