/**
 * The cache's request headers, for every REST route (chat completions, responses, messages):
 * what GraphQL says with `CompletionInput.cache` and `cacheOptions`.
 *
 * - `x-conduit-cache`: a comma-separated list of at most one mode (`default`, `bypass`,
 *   `refresh`) and `no-store` (read the caches as usual, store this answer in neither);
 *   case-insensitive, so `refresh, no-store` works and so does a header sent twice.
 * - `x-conduit-cache-min-similarity`: a number in (0, 1] that raises the similarity a semantic
 *   hit needs for this request; below the configured threshold it changes nothing.
 *
 * A bad value is a 400 naming the header.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { badInput } from '../gateway/errors.js';
import type { CacheMode, CacheOptions } from '../gateway/types.js';
import { shown } from './json-fields.js';

/** What a request's headers ask of the caches. */
export interface CacheControls {
  mode: CacheMode;
  /** Absent when the request asks nothing of the semantic cache. */
  options?: CacheOptions;
}

export const DEFAULT_CACHE_CONTROLS: CacheControls = Object.freeze({ mode: 'DEFAULT' });

const MODE = 'x-conduit-cache';
const MIN_SIMILARITY = 'x-conduit-cache-min-similarity';

const modes: ReadonlyMap<string, CacheMode> = new Map([
  ['default', 'DEFAULT'],
  ['bypass', 'BYPASS'],
  ['refresh', 'REFRESH'],
]);

/** A decimal such as `0.97`, `.97` or `1` (no exponent, sign or hex). */
const decimal = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** The request's cache headers. Throws BAD_USER_INPUT naming the header at fault. */
export function cacheControlsOf(headers: IncomingHttpHeaders): CacheControls {
  const options: CacheOptions = {};
  let mode: CacheMode | undefined;
  const directives = headers[MODE];
  if (directives !== undefined) {
    for (const directive of String(directives).split(',')) {
      const name = directive.trim().toLowerCase();
      const named = modes.get(name);
      if (name === 'no-store') options.noStore = true;
      else if (named && mode === undefined) mode = named;
      else if (named)
        throw badInput(
          MODE,
          `the ${MODE} header names more than one mode (got ${shown(String(directives))})`,
        );
      else
        throw badInput(
          MODE,
          `the ${MODE} header is bypass, refresh or default, and/or no-store (got ${shown(directive.trim())})`,
        );
    }
  }
  const threshold = headers[MIN_SIMILARITY];
  if (threshold !== undefined) {
    const text = String(threshold).trim();
    const value = Number(text);
    if (!decimal.test(text) || !(value > 0 && value <= 1))
      throw badInput(
        MIN_SIMILARITY,
        `the ${MIN_SIMILARITY} header is a number above 0 and at most 1, such as 0.97 (got ${shown(text)})`,
      );
    options.minSimilarity = value;
  }
  const controls: CacheControls = { mode: mode ?? 'DEFAULT' };
  if (options.noStore !== undefined || options.minSimilarity !== undefined)
    controls.options = options;
  return controls;
}
