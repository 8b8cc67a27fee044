/**
 * Finds, reads and validates the config: `--config FILE`, else CONDUIT_CONFIG, else
 * ./conduit.yaml if present, else the embedded default. `${VAR}` (and `${VAR:-fallback}`) in
 * any string is read from the environment (see interpolate.ts). Errors name the path in the file
 * and never print a value, so no secret leaks into a terminal or a log; what is surely wrong but
 * may be meant (a key written in the file) comes back as a warning to log.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { duplicateClientKeys, literalKeys } from './checks.js';
import { unquotedReferencesInFlow } from './flow-yaml.js';
import {
  coerce,
  interpolate,
  type Env,
  type Interpolated,
  type StringSource,
} from './interpolate.js';
import { formatPath } from './path.js';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid config (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export { formatPath };

/** Where the config comes from: a file path, or undefined for the embedded default. */
export function resolveConfigPath(
  argv: readonly string[],
  env: Env,
  cwd = process.cwd(),
): string | undefined {
  const flag = argv.findIndex((arg) => arg === '--config' || arg.startsWith('--config='));
  if (flag >= 0) {
    const arg = argv[flag]!;
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[flag + 1];
    if (!value) throw new ConfigError('--config', ['--config needs a file path']);
    return resolve(cwd, value);
  }
  if (env.CONDUIT_CONFIG) return resolve(cwd, env.CONDUIT_CONFIG);
  const local = resolve(cwd, 'conduit.yaml');
  return existsSync(local) ? local : undefined;
}

const envKeys = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  gemini: 'GEMINI_API_KEY',
  mistral: 'MISTRAL_API_KEY',
} as const;

/** No file needed: echo, plus each real provider whose key variable is set. */
export function embeddedDefault(env: Env): Record<string, unknown> {
  const providers: Record<string, unknown> = { echo: { type: 'echo' } };
  for (const [type, variable] of Object.entries(envKeys)) {
    if (env[variable]) providers[type] = { type, keys: [`\${${variable}}`] };
  }
  return { providers };
}

function describeIssue(
  issue: z.core.$ZodIssue,
  sources: ReadonlyMap<string, StringSource>,
): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${formatPath([...issue.path, key])}: unknown key (is it a typo?)`)
      .join('\n  - ');
  }
  const path = formatPath(issue.path);
  const source = sources.get(path);
  const expected = expectedScalar(issue);
  if (expected && source?.whole) {
    return `${path}: expected a ${expected}, and what \${${source.variables[0]}} gave is not one`;
  }
  return `${path}: ${issue.message}`;
}

/** Validates a parsed (not yet interpolated) config object. */
export function parseConfig(raw: unknown, env: Env, source = 'config'): Config {
  return readConfig(raw, env, source).config;
}

/**
 * Interpolates, validates and checks a parsed config object; returns it with its warnings (keys
 * written in the file) for the caller to log. A `${…}` standing alone where the schema expects a
 * number or a boolean is read as one; the same text written in the file is not.
 */
export function readConfig(
  raw: unknown,
  env: Env,
  source = 'config',
): { config: Config; warnings: string[] } {
  const interpolated = interpolate(raw ?? {}, env);
  if (interpolated.problems.length > 0) throw new ConfigError(source, interpolated.problems);
  let result = configSchema.safeParse(interpolated.value);
  // zod reports every misplaced string in one pass: coerce those a `${…}` filled, then again.
  if (!result.success && coerceIssues(interpolated, result.error.issues)) {
    result = configSchema.safeParse(interpolated.value);
  }
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue) => describeIssue(issue, interpolated.sources)),
    );
  }
  const config = result.data;
  const duplicates = duplicateClientKeys(config.clients);
  if (duplicates.length > 0) throw new ConfigError(source, duplicates);
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(source, ['PORT: must be a port number']);
    }
    config.server.port = port;
  }
  return { config, warnings: literalKeys(config, interpolated.sources) };
}

/** Replaces, in place, each `${…}` string the schema wanted as a number or boolean; true if any. */
function coerceIssues(interpolated: Interpolated, issues: readonly z.core.$ZodIssue[]): boolean {
  let changed = false;
  for (const issue of issues) {
    const expected = expectedScalar(issue);
    if (!expected || issue.path.length === 0) continue;
    if (!interpolated.sources.get(formatPath(issue.path))?.whole) continue;
    let parent = interpolated.value as Record<PropertyKey, unknown>;
    for (const key of issue.path.slice(0, -1)) parent = parent[key] as Record<PropertyKey, unknown>;
    const key = issue.path.at(-1)!;
    const value = parent[key];
    if (typeof value !== 'string') continue;
    const coerced = coerce(value, expected);
    if (coerced === undefined) continue;
    parent[key] = coerced;
    changed = true;
  }
  return changed;
}

function expectedScalar(issue: z.core.$ZodIssue): 'number' | 'boolean' | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  const expected: string = issue.expected;
  return expected === 'number' || expected === 'boolean' ? expected : undefined;
}

export interface LoadedConfig {
  config: Config;
  /** Sure to be a mistake, yet not refused (a key written in the file): log them. */
  warnings: string[];
  /** The file it came from; undefined for the embedded default. */
  path: string | undefined;
}

export function loadConfig(
  options: { argv?: readonly string[]; env?: Env; cwd?: string } = {},
): LoadedConfig {
  const env = options.env ?? process.env;
  const path = resolveConfigPath(options.argv ?? process.argv.slice(2), env, options.cwd);
  if (path === undefined)
    return { ...readConfig(embeddedDefault(env), env, 'embedded default'), path };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [
      `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  const unquoted = unquotedReferencesInFlow(text);
  if (unquoted.length > 0) throw new ConfigError(path, unquoted);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const where =
      error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
    throw new ConfigError(path, [`not valid YAML${where}`]);
  }
  return { ...readConfig(raw, env, path), path };
}
