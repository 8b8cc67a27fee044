/** The cache's REST request headers → the request's cache mode and semantic-cache options. */
import { describe, expect, it } from 'vitest';
import type { GatewayError } from '../../src/gateway/errors.js';
import { cacheControlsOf } from '../../src/rest/cache-headers.js';

const fieldOf = (headers: Record<string, string>): unknown => {
  try {
    cacheControlsOf(headers);
  } catch (error) {
    return (error as GatewayError).details.field;
  }
  return 'no error';
};

describe('cacheControlsOf', () => {
  it('reads a mode, no-store and a threshold, in any case and spacing', () => {
    expect(cacheControlsOf({})).toEqual({ mode: 'DEFAULT' });
    expect(cacheControlsOf({ 'x-conduit-cache': 'BYPASS' })).toEqual({ mode: 'BYPASS' });
    expect(cacheControlsOf({ 'x-conduit-cache': ' Refresh ,no-store' })).toEqual({
      mode: 'REFRESH',
      options: { noStore: true },
    });
    expect(cacheControlsOf({ 'x-conduit-cache-min-similarity': '.97' })).toEqual({
      mode: 'DEFAULT',
      options: { minSimilarity: 0.97 },
    });
    expect(cacheControlsOf({ 'x-conduit-cache-min-similarity': '1.000' }).options).toEqual({
      minSimilarity: 1,
    });
  });

  it.each([
    ['x-conduit-cache', ''],
    ['x-conduit-cache', 'constructor'],
    ['x-conduit-cache', 'default, bypass'],
    ['x-conduit-cache', 'no-store,'],
    ['x-conduit-cache-min-similarity', ''],
    ['x-conduit-cache-min-similarity', '1e0'],
    ['x-conduit-cache-min-similarity', '-0.5'],
    ['x-conduit-cache-min-similarity', '1.01'],
    ['x-conduit-cache-min-similarity', 'Infinity'],
  ])('refuses %s: %j, naming the header', (header, value) => {
    expect(fieldOf({ [header]: value })).toBe(header);
  });
});
