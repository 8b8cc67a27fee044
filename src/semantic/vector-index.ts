/**
 * One scope's vectors, searched exactly: a flat `Float32Array` of unit vectors scanned with a
 * dot product (cosine similarity, since every vector has length 1). Bounded: when full, the
 * least recently used entry (added or served) goes. Removal moves the last entry into the hole,
 * so the array stays dense and a scan never skips.
 *
 * The array is laid out by dimension (component `i` of every entry side by side), so a scan
 * reads, for each non-zero component of the query, one contiguous run over the entries: a
 * lexical query has a few dozen non-zero components, and the scan touches nothing else.
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
  /** Component `i` of the entry in `slot` is at `i * #slotsHeld + slot`. */
  #vectors: Float32Array;
  #scores: Float32Array;
  #slotsHeld: number;
  readonly #entries: IndexedEntry[] = [];
  #used: Float64Array;
  readonly #slots = new Map<string, number>();
  #tick = 0;

  constructor(dimension: number, capacity: number) {
    this.dimension = dimension;
    this.capacity = capacity;
    const initial = Math.min(capacity, 64);
    this.#slotsHeld = initial;
    this.#vectors = new Float32Array(initial * dimension);
    this.#scores = new Float32Array(initial);
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
    if (slot >= this.#slotsHeld) this.#grow();
    const held = this.#slotsHeld;
    const vectors = this.#vectors;
    for (let i = 0; i < this.dimension; i++) vectors[i * held + slot] = vector[i]!;
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
      const held = this.#slotsHeld;
      const vectors = this.#vectors;
      for (let i = 0; i < this.dimension; i++) vectors[i * held + slot] = vectors[i * held + last]!;
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
   * The nearest entry at or above `minSimilarity` whose guard agrees; an expired entry that
   * would have matched is removed (the others go with the least recently used).
   */
  search(vector: Float32Array, minSimilarity: number, guard: string, now: number): SearchResult {
    const vectors = this.#vectors;
    const held = this.#slotsHeld;
    const size = this.#entries.length;
    const scores = this.#scores;
    scores.fill(0, 0, size);
    // A lexical vector has a few dozen non-zero components: the dot products need only those.
    for (let i = 0; i < this.dimension; i++) {
      const q = vector[i]!;
      if (q === 0) continue;
      const base = i * held;
      for (let slot = 0; slot < size; slot++) scores[slot]! += vectors[base + slot]! * q;
    }
    let best: Match | undefined;
    let guarded = false;
    let expired: string[] | undefined;
    for (let slot = 0; slot < size; slot++) {
      const dot = scores[slot]!;
      if (dot < minSimilarity) continue;
      const entry = this.#entries[slot]!;
      if (entry.expiresAt <= now) {
        (expired ??= []).push(entry.id);
        continue;
      }
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
    const before = this.#slotsHeld;
    const slots = Math.min(this.capacity, Math.max(1, before * 2));
    const vectors = new Float32Array(slots * this.dimension);
    for (let i = 0; i < this.dimension; i++)
      vectors.set(this.#vectors.subarray(i * before, (i + 1) * before), i * slots);
    this.#vectors = vectors;
    this.#slotsHeld = slots;
    this.#scores = new Float32Array(slots);
    const used = new Float64Array(slots);
    used.set(this.#used);
    this.#used = used;
  }
}
