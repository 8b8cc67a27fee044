import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { newRequestId } from '../../src/gateway/ids.js';

describe('request ids', () => {
  it('are UUIDv7, unique, and sort by the time they were made', () => {
    const first = Array.from({ length: 5000 }, newRequestId);
    expect(new Set(first).size).toBe(5000);
    for (const id of first) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    // A later millisecond sorts after every id of an earlier one (their first 48 bits).
    const before = first.at(-1)!;
    const started = Date.now();
    while (Date.now() === started); // at most a millisecond
    const later = newRequestId();
    expect(later > before).toBe(true);
    expect(parseInt(later.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThanOrEqual(started);
  });
});
