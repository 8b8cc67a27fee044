/**
 * Reads the delay an upstream asks for before the next try, from whichever header it uses:
 * `retry-after` (seconds or an HTTP date), `retry-after-ms`, OpenAI's `x-ratelimit-reset-*`
 * (durations such as `6m0s`, `1.5s`, `120ms`) and Anthropic's `anthropic-ratelimit-*-reset`
 * (RFC 3339 times).
 */
type Headers = Readonly<Record<string, string | string[] | undefined>>;

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** `1h2m3.5s`, `6m0s`, `120ms`, `2s` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  let matched = '';
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(part[1]) * units[part[2]!]!;
    matched += part[0];
  }
  return matched.length > 0 && matched === text.trim() ? Math.ceil(total) : undefined;
}

export function parseRetryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));

  const retryAfter = header(headers, 'retry-after');
  if (retryAfter !== undefined) {
    if (/^\d+(\.\d+)?$/.test(retryAfter.trim())) return Math.ceil(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }

  const waits: number[] = [];
  for (const name of ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']) {
    const value = header(headers, name);
    const wait = value === undefined ? undefined : parseDuration(value);
    if (wait !== undefined) waits.push(wait);
  }
  for (const name of [
    'anthropic-ratelimit-requests-reset',
    'anthropic-ratelimit-tokens-reset',
    'anthropic-ratelimit-input-tokens-reset',
    'anthropic-ratelimit-output-tokens-reset',
  ]) {
    const value = header(headers, name);
    const date = value === undefined ? NaN : Date.parse(value);
    if (!Number.isNaN(date)) waits.push(Math.max(0, date - now));
  }
  return waits.length > 0 ? Math.max(...waits) : undefined;
}
