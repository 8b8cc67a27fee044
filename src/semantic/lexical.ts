/**
 * The built-in lexical embedder: no network, no model files. A prompt becomes a hashed bag of
 * its words (weight 1) and of each word's character trigrams (weight 0.5), L2-normalised into
 * a fixed number of buckets (the hashing trick, with a sign bit so collisions cancel rather than
 * add up); function words ("what", "the", "do") weigh a quarter. Cosine similarity of two such vectors is then about how many words and word pieces
 * two prompts share: it sees through case, spacing, punctuation, word order and small spelling
 * differences, never through synonyms.
 */
import type { Embedder } from './types.js';

/** @default 512 */
export const LEXICAL_DIMENSION = 512;

/**
 * What the lexical embedder calls similar enough when no threshold is configured: chosen with
 * `npm run bench:semantic` so that no near-miss pair of its labelled set passes.
 */
export const LEXICAL_MIN_SIMILARITY = 0.95;

/** The longest prompt embedded, in characters; a longer one is ineligible, never truncated. */
export const LEXICAL_MAX_INPUT_CHARS = 4096;

const WORD_WEIGHT = 1;
const TRIGRAM_WEIGHT = 0.5;
/** Function words weigh little: two questions differing in one content word stay apart. */
const STOPWORD_WEIGHT = 0.25;

const STOPWORDS = new Set(
  (
    'a an the i me my we our you your it its they them their he she his her is are was were be ' +
    'been am do does did doing have has had can could would should will shall may might must ' +
    'what which who whom whose when where why how that this these those there here of in on at ' +
    'to for from by with about as into onto than then so if or and but please hey hi hello ' +
    'just any some get got tell know want like need s'
  ).split(' '),
);

/** Words of a prompt: lower case, letters and digits only (apostrophes dropped inside words). */
export function wordsOf(text: string): string[] {
  return (
    text
      .toLowerCase()
      .normalize('NFKC')
      .replace(/['’]/g, '')
      .match(/[\p{L}\p{N}]+(?:[.,]\d+)*/gu) ?? []
  );
}

/** FNV-1a over a string's UTF-16 units. */
function fnv1a(text: string, seed = 2166136261): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function add(vector: Float32Array, feature: string, weight: number): void {
  const h = fnv1a(feature);
  const bucket = h % vector.length;
  vector[bucket]! += (h & 0x80000000) === 0 ? weight : -weight;
}

/** The vector of one prompt (never all zeros: an empty prompt gets one bucket). */
export function lexicalVector(text: string, dimension = LEXICAL_DIMENSION): Float32Array {
  const vector = new Float32Array(dimension);
  for (const word of wordsOf(text)) {
    const weight = STOPWORDS.has(word) ? STOPWORD_WEIGHT : 1;
    add(vector, word, WORD_WEIGHT * weight);
    const padded = `^${word}$`;
    for (let i = 0; i + 3 <= padded.length; i++)
      add(vector, `#${padded.slice(i, i + 3)}`, TRIGRAM_WEIGHT * weight);
  }
  let norm = 0;
  for (let i = 0; i < dimension; i++) norm += vector[i]! * vector[i]!;
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimension; i++) vector[i]! *= scale;
  return vector;
}

export function createLexicalEmbedder(
  options: { dimension?: number; maxInputChars?: number } = {},
): Embedder {
  const dimension = options.dimension ?? LEXICAL_DIMENSION;
  return {
    id: 'lexical-v1',
    dimension,
    defaultMinSimilarity: LEXICAL_MIN_SIMILARITY,
    maxInputChars: options.maxInputChars ?? LEXICAL_MAX_INPUT_CHARS,
    embed: (text) => lexicalVector(text, dimension),
  };
}
