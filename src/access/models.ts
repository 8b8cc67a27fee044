/**
 * A token's models are never wider than its client's. Each is an alias, a `provider/model`, or
 * a glob (`openai/*`); a client's pattern covers it when the pattern matches its text, `*`
 * included: any name a covered glob matches, the client's pattern matches too (a client `*`
 * stretches over the token's `*`).
 */
import { matchesGlob } from '../auth.js';

/** Whether a client allowing `allowed` (undefined: all) allows every name `pattern` matches. */
export function covers(allowed: readonly string[] | undefined, pattern: string): boolean {
  if (!allowed) return true;
  return allowed.some((mine) => matchesGlob(mine, pattern));
}

/**
 * The models a token may use now: its own list kept to what the client still covers (a client
 * narrowed since the token was minted narrows it too); no list: the client's.
 */
export function narrowModels(
  allowed: readonly string[] | undefined,
  asked: readonly string[] | undefined,
): readonly string[] | undefined {
  if (!asked) return allowed;
  return Object.freeze(asked.filter((pattern) => covers(allowed, pattern)));
}
