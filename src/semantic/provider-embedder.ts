/**
 * The `provider` embedder: a configured provider's embeddings, asked through the gateway's own
 * embeddings path (so the caller's limits apply and the cost is recorded as usage). Past its
 * deadline the call is abandoned (its upstream aborted) and the look-up is a miss: a slow or
 * hanging embedder never stalls a request by more than the deadline.
 */
import { Cancel } from '../gateway/cancel.js';
import type { Caller, EmbeddingRequest, Embeddings } from '../gateway/types.js';
import type { Embedder } from './types.js';

export type EmbedThroughGateway = (
  request: EmbeddingRequest,
  caller: Caller,
  signal: Cancel,
) => Promise<Embeddings>;

export interface ProviderEmbedderOptions {
  /** `provider/model` or an alias whose targets make embeddings. */
  model: string;
  deadlineMs: number;
  maxInputChars: number;
  minSimilarity: number;
  embed: EmbedThroughGateway;
  onError?(error: unknown): void;
}

/** The vector scaled to length 1 (as float32); undefined when it is empty or all zeros. */
export function unit(values: readonly number[]): Float32Array | undefined {
  let norm = 0;
  for (const value of values) norm += value * value;
  if (!(norm > 0)) return undefined;
  const scale = 1 / Math.sqrt(norm);
  const vector = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) vector[i] = values[i]! * scale;
  return vector;
}

export function createProviderEmbedder(options: ProviderEmbedderOptions): Embedder {
  const embedder: Embedder = {
    id: `provider:${options.model}`,
    dimension: undefined,
    defaultMinSimilarity: options.minSimilarity,
    maxInputChars: options.maxInputChars,
    embed(text, caller) {
      const cancel = new Cancel();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          cancel.abort();
          resolve(undefined);
        }, options.deadlineMs);
      });
      const call = options
        .embed({ model: options.model, input: [text], route: 'embeddings' }, caller, cancel)
        .then(
          (result) => {
            const vector = unit(result.embeddings[0] ?? []);
            if (vector) embedder.dimension = vector.length;
            return vector;
          },
          (error: unknown) => {
            if (!cancel.aborted) options.onError?.(error);
            return undefined;
          },
        );
      return Promise.race([call, late]).finally(() => clearTimeout(timer));
    },
  };
  return embedder;
}
