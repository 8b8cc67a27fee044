/**
 * Masks credentials in text that came from elsewhere (an upstream's error body, mostly) before
 * it is written anywhere a tenant, a webhook or a log reader sees it: bearer tokens, URLs with
 * user info, key-shaped strings (sk-, sk-ant-, AIza…), values after key=, token=, password=…,
 * and every secret of the config, each replaced by `[redacted]`.
 *
 * The text is attacker-influenced, so every pattern runs in linear time: no nested quantifiers,
 * every repetition bounded, and each repeated class disjoint from what follows it, so a failed
 * match backtracks at most a bounded number of steps. Replacements never take a `"` or a `\`:
 * a masked JSON document stays JSON.
 */

export const REDACTED = '[redacted]';

/** What `mask` does, as a function to hand around. */
export type Mask = (text: string) => string;

export interface Redactor {
  mask: Mask;
}

/** Secrets shorter than this are not masked as literals: they would garble ordinary words. */
const minSecretLength = 8;

/**
 * [gate, pattern, replacement]; applied in order. The gate is what every match of the pattern
 * contains, found far more cheaply than the pattern's own scan (a substring, or a test for a few
 * words when the pattern ignores case): most text holds none, and then the pattern is not run.
 * A gate only ever skips a pattern that could not match, so what is masked is the same.
 */
const patterns: readonly [string | RegExp, RegExp, string][] = [
  // `Bearer <token>`, `Basic <credentials>`.
  [/bearer|basic/i, /\b(bearer|basic)\s{1,8}[\w.~+/=-]{1,4096}/gi, `$1 ${REDACTED}`],
  // scheme://user:password@host and scheme://token@host.
  [
    '://',
    /\b([a-z][\w+.-]{0,30}:\/\/)[^\s/@:"'\\<>]{0,256}(?::[^\s/@"'\\<>]{0,256})?@/gi,
    `$1${REDACTED}@`,
  ],
  // Anthropic's and OpenAI's keys (sk-ant-…, sk-proj-…, sk-…), masked as OpenAI echoes them too.
  ['sk-', /\bsk-[\w*…-]{6,512}/g, REDACTED],
  // Google API keys.
  ['AIza', /\bAIza[\w-]{20,128}/g, REDACTED],
  // key=…, "api_key": "…", x-api-key: …, password=…, token=…; quotes may be escaped (JSON in JSON).
  // A value of fewer than 8 characters is a word, not a secret ("missing API key: send …").
  // Every name below ends with one of the gate's words.
  [
    /key|token|secret|passw|pwd|authorization/i,
    /\b((?:x-api-key|x-goog-api-key|api[_-]?key|apikey|key|access[_-]?token|refresh[_-]?token|id[_-]?token|token|secret|client[_-]?secret|password|passwd|pwd|authorization)(?:\\{0,4}["'])?\s{0,3}[:=]\s{0,3}(?:\\{0,4}["'])?)[^\s"'\\&,;[\]{}<>]{8,1024}/gi,
    `$1${REDACTED}`,
  ],
];

const opens = (text: string, gate: string | RegExp): boolean =>
  typeof gate === 'string' ? text.includes(gate) : gate.test(text);

/** A Redactor masking the patterns above and these secrets, given as the config holds them. */
export function createRedactor(secrets: Iterable<string> = []): Redactor {
  // Longest first, so a secret that contains another is masked whole.
  const literals = [...new Set(secrets)]
    .filter((secret) => secret.length >= minSecretLength)
    .sort((a, b) => b.length - a.length);
  return {
    mask(text) {
      let out = text;
      // Literals first: a configured key that is not key-shaped is only found as itself.
      for (const secret of literals)
        if (out.includes(secret)) out = out.split(secret).join(REDACTED);
      for (const [gate, pattern, replacement] of patterns)
        if (opens(out, gate)) out = out.replace(pattern, replacement);
      return out;
    },
  };
}

/** The patterns alone, for places that do not know the config (edges, log lines, alerts). */
export const maskSecrets: Mask = createRedactor().mask;

/**
 * Every secret a config holds: provider keys, client keys, the alert webhook URL (its path and
 * query are often the secret) and the passwords in the Redis and database URLs.
 */
export function secretsOf(config: SecretSources): string[] {
  const secrets: string[] = [];
  for (const provider of Object.values(config.providers)) secrets.push(...provider.keys);
  for (const client of config.clients) if (client.key) secrets.push(client.key);
  if (config.metrics.token) secrets.push(config.metrics.token);
  const sessionTokens = config.auth?.sessionTokens;
  if (sessionTokens?.secret) secrets.push(sessionTokens.secret);
  if (sessionTokens?.privateKey) secrets.push(sessionTokens.privateKey);
  const webhook = config.alerts.webhookUrl;
  if (webhook) secrets.push(webhook, ...urlSecrets(webhook, true));
  if (config.redis) secrets.push(...urlSecrets(config.redis.url, false));
  secrets.push(...urlSecrets(config.database.url, false));
  // An OTLP collector's credentials: its export headers' values, a password in its URL.
  const telemetry = config.telemetry;
  if (telemetry?.headers) secrets.push(...Object.values(telemetry.headers));
  if (telemetry?.otlpEndpoint) secrets.push(...urlSecrets(telemetry.otlpEndpoint, false));
  return secrets;
}

/**
 * The parts of the config that hold secrets (the config itself fits): a shape of its own, so the
 * masking, which errors use, imports nothing of the config's.
 */
export interface SecretSources {
  providers: Record<string, { keys: readonly string[] }>;
  clients: readonly { key?: string | undefined }[];
  alerts: { webhookUrl?: string | undefined };
  redis?: { url: string } | undefined;
  database: { url: string };
  metrics: { token?: string | undefined };
  auth?: {
    sessionTokens?: { secret?: string | undefined; privateKey?: string | undefined } | undefined;
  };
  telemetry?: {
    headers?: Record<string, string> | undefined;
    otlpEndpoint?: string | undefined;
  };
}

/** The user info of a URL and, with `withPath`, its path and query (a webhook's token). */
function urlSecrets(url: string, withPath: boolean): string[] {
  try {
    const parsed = new URL(url);
    const out = [parsed.username, parsed.password].map(decodeURIComponent);
    if (withPath) out.push(parsed.pathname + parsed.search);
    return out.filter((part) => part.length > 0 && part !== '/');
  } catch {
    return [];
  }
}
