import { describe, expect, it } from 'vitest';
import { matchesGlob } from '../../src/auth.js';

describe('matchesGlob', () => {
  it('matches names as the allow-lists mean them', () => {
    expect(matchesGlob('openai/*', 'openai/gpt-4o-mini')).toBe(true);
    expect(matchesGlob('openai/*', 'anthropic/claude')).toBe(false);
    expect(matchesGlob('fast', 'fast')).toBe(true);
    expect(matchesGlob('fast', 'faster')).toBe(false);
    expect(matchesGlob('*/gpt-*-mini', 'openai/gpt-4o-mini')).toBe(true);
    expect(matchesGlob('*/gpt-*-mini', 'openai/gpt-4o')).toBe(false);
    expect(matchesGlob('a*a', 'a')).toBe(false);
    expect(matchesGlob('a*a', 'aa')).toBe(true);
    expect(matchesGlob('*', '')).toBe(true);
    expect(matchesGlob('a.b*', 'axb')).toBe(false);
    expect(matchesGlob('x*y*z', 'xzyz')).toBe(true);
    expect(matchesGlob('x*y*z', 'xzzy')).toBe(false);
  });

  it('takes linear time on a hostile name (a backtracking regex took polynomial time)', () => {
    const pattern = '*a*a*a*a*a*a*b';
    const name = 'a'.repeat(200_000);
    const started = performance.now();
    expect(matchesGlob(pattern, name)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
