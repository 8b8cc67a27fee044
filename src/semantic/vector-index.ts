/**
 * One scope's vectors, searched exactly: a flat `Float32Array` of unit vectors scanned with a
 * dot product (cosine similarity, since every vector has length 1). Bounded: when full, the
 * least recently used entry (added or served) goes. Removal moves the last entry into the hole,
 * so the array stays dense and a scan never skips.
 */
import { guardsAgree } from './guard.js';
import type { IndexedEntry } from './types.js';

export interface Match {
  entry: IndexedEntry;
  similarity: number;
}

export interface SearchResult {
  /** The nearest entry at or above the threshold whose guard agrees (`guardsAgree`). */
  match: Match | undefined;
  /** Some entry passed the threshold but its guard differed. */
  guarded: boolean;
}

export class ScopeIndex {
  readonly dimension: number;
  readonly capacity: number;
  #vectors: Float32Array;
  readonly #entries: IndexedEntry[] = [];
  #used: Float64Array;
  readonly #slots = new Map<string, number>();
  #tick = 0;

  constructor(dimension: number, capacity: number) {
    this.dimension = dimension;
    this.capacity = capacity;
    const initial = Math.min(capacity, 64);
    this.#vectors = new Float32Array(initial * dimension);
    this.#used = new Float64Array(initial);
  }

  get size(): number {
    return this.#entries.length;
  }

  has(id: string): boolean {
    return this.#slots.has(id);
  }

  /** Adds (or replaces) an entry; the least recently used goes first when the scope is full. */
  add(vector: Float32Array, entry: IndexedEntry): void {
    if (vector.length !== this.dimension) return;
    this.remove(entry.id);
    if (this.#entries.length >= this.capacity) this.#evict();
    const slot = this.#entries.length;
    if ((slot + 1) * this.dimension > this.#vectors.length) this.#grow();
    this.#vectors.set(vector, slot * this.dimension);
    this.#entries.push(entry);
    this.#used[slot] = ++this.#tick;
    this.#slots.set(entry.id, slot);
  }

  /** Removes an entry; answers whether it was there. */
  remove(id: string): boolean {
    const slot = this.#slots.get(id);
    if (slot === undefined) return false;
    const last = this.#entries.length - 1;
    if (slot !== last) {
      const moved = this.#entries[last]!;
      this.#entries[slot] = moved;
      this.#used[slot] = this.#used[last]!;
      this.#vectors.copyWithin(
        slot * this.dimension,
        last * this.dimension,
        (last + 1) * this.dimension,
      );
      this.#slots.set(moved.id, slot);
    }
    this.#entries.pop();
    this.#slots.delete(id);
    return true;
  }

  /** Marks an entry as just used (a hit keeps it longer). */
  touch(id: string): void {
    const slot = this.#slots.get(id);
    if (slot !== undefined) this.#used[slot] = ++this.#tick;
  }

  /**
   * The nearest entry at or above `minSimilarity` with the same guard; expired entries met on
   * the way are removed.
   */
  search(vector: Float32Array, minSimilarity: number, guard: string, now: number): SearchResult {
    const dimension = this.dimension;
    const vectors = this.#vectors;
    // A lexical vector has a few dozen non-zero buckets: the dot product needs only those.
    const nonZero = new Int32Array(dimension);
    let count = 0;
    for (let i = 0; i < dimension; i++) if (vector[i] !== 0) nonZero[count++] = i;
    let best: Match | undefined;
    let guarded = false;
    let expired: string[] | undefined;
    for (let slot = 0; slot < this.#entries.length; slot++) {
      const entry = this.#entries[slot]!;
      if (entry.expiresAt <= now) {
        (expired ??= []).push(entry.id);
        continue;
      }
      let dot = 0;
      const base = slot * dimension;
      for (let k = 0; k < count; k++) {
        const i = nonZero[k]!;
        dot += vectors[base + i]! * vector[i]!;
      }
      if (dot < minSimilarity) continue;
      if (!guardsAgree(entry.guard, guard)) guarded = true;
      else if (!best || dot > best.similarity) best = { entry, similarity: dot };
    }
    if (expired) for (const id of expired) this.remove(id);
    return { match: best, guarded: guarded && !best };
  }

  #evict(): void {
    let oldest = 0;
    for (let slot = 1; slot < this.#entries.length; slot++)
      if (this.#used[slot]! < this.#used[oldest]!) oldest = slot;
    const entry = this.#entries[oldest];
    if (entry) this.remove(entry.id);
  }

  #grow(): void {
    const slots = Math.min(this.capacity, Math.max(1, this.#used.length * 2));
    const vectors = new Float32Array(slots * this.dimension);
    vectors.set(this.#vectors);
    this.#vectors = vectors;
    const used = new Float64Array(slots);
    used.set(this.#used);
    this.#used = used;
  }
}
