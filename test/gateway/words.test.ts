import { describe, expect, it } from 'vitest';
import { splitWords } from '../../src/gateway/words.js';

/** What the echo provider and the cache replay used before: the reference for the split. */
const byRegex = (text: string) => text.match(/\s*\S+(\s+$)?/g) ?? [];

describe('splitWords', () => {
  it('splits as the regular expression did, whitespace kept, the text given back whole', () => {
    const alphabet = ['a', 'b', ' ', '\n', '\t', '\u00a0', '\u3000', 'é', '😀', '\u200b'];
    let seed = 7;
    for (let n = 0; n < 2_000; n++) {
      let text = '';
      const length = n % 23;
      for (let i = 0; i < length; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        text += alphabet[seed % alphabet.length];
      }
      const words = splitWords(text);
      expect(words).toEqual(byRegex(text));
      if (words.length > 0) expect(words.join('')).toBe(text);
    }
  });

  it('takes linear time on a megabyte of spaces (the expression took minutes)', () => {
    const started = performance.now();
    expect(splitWords(' '.repeat(1_000_000))).toEqual([]);
    expect(splitWords(`${' '.repeat(1_000_000)}x`)).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
