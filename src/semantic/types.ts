/** The semantic cache's shapes: embedders, entries, what a look-up found. */
import type { CachedAnswer, Caller } from '../gateway/types.js';

export interface Embedder {
  /** Names the embedder in scopes: a new embedder starts new scopes. */
  id: string;
  /** Known up front (lexical), or learned from the first vector (provider). */
  dimension: number | undefined;
  /** The similarity this embedder calls a match when none is configured. */
  defaultMinSimilarity: number;
  /** The longest prompt it takes whole, in characters; longer prompts are ineligible. */
  maxInputChars: number;
  /** A unit vector, or undefined when none came in time (a miss, never a stall). */
  embed(text: string, caller: Caller): Float32Array | Promise<Float32Array | undefined>;
}

/** How a look-up ended, as the metrics count it. */
export const SemanticResults = ['hit', 'miss', 'guarded', 'ineligible', 'unavailable'] as const;
export type SemanticResult = (typeof SemanticResults)[number];

export type { SemanticHit } from '../gateway/types.js';

/** What a look-up leaves for storing the answer afterwards. */
export interface Probe {
  scope: string;
  vector: Float32Array;
  guard: string;
  /** The target the scope names: only its answers are stored (a fallback's are not). */
  provider: string;
  model: string;
  noStore: boolean;
}

/** An entry as the index holds it (the answer in memory, or only its id with Redis). */
export interface IndexedEntry {
  id: string;
  guard: string;
  expiresAt: number;
  answer: CachedAnswer | undefined;
}
