/**
 * Request ids: UUIDv7, time-ordered. Usage rows are keyed by them, so a new row lands at the end
 * of the primary-key index instead of anywhere in it: with random (v4) ids every row of a batch
 * dirtied its own index page, and SQLite's write cost per row halved with v7 (bench/pipeline.ts).
 * Random bits come from a pooled `randomFillSync` (the `uuid` package's own source calls
 * `crypto.getRandomValues` for each id, ten times the cost of the id itself).
 */
import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

const pool = new Uint8Array(4096);
let offset = pool.length;

const options = {
  rng(): Uint8Array {
    if (offset + 16 > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    return pool.subarray(offset, (offset += 16));
  },
};

export const newRequestId = (): string => v7(options);
