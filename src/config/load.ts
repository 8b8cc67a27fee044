/**
 * Finds, reads and validates the config: `--config FILE`, else CONDUIT_CONFIG, else
 * ./conduit.yaml if present, else the embedded default. `${VAR}` (and `${VAR:-fallback}`) in
 * any string is read from the environment. Errors name the path in the file and never print a
 * value, so no secret leaks into a terminal or a log.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
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

type Env = Readonly<Record<string, string | undefined>>;

/** `providers.openai.keys[1]` from ['providers', 'openai', 'keys', 1]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

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

/** Replaces `${VAR}` and `${VAR:-fallback}` in every string; unset variables are problems. */
function interpolate(value: unknown, env: Env, path: PropertyKey[], problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: the variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, i], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k], problems)]),
    );
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${formatPath([...issue.path, key])}: unknown key (is it a typo?)`)
      .join('\n  - ');
  }
  return `${formatPath(issue.path)}: ${issue.message}`;
}

/** Validates a parsed (not yet interpolated) config object. */
export function parseConfig(raw: unknown, env: Env, source = 'config'): Config {
  const problems: string[] = [];
  const interpolated = interpolate(raw ?? {}, env, [], problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const result = configSchema.safeParse(interpolated);
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describeIssue));
  const config = result.data;
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(source, ['PORT: must be a port number']);
    }
    config.server.port = port;
  }
  return config;
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from; undefined for the embedded default. */
  path: string | undefined;
}

export function loadConfig(
  options: { argv?: readonly string[]; env?: Env; cwd?: string } = {},
): LoadedConfig {
  const env = options.env ?? process.env;
  const path = resolveConfigPath(options.argv ?? process.argv.slice(2), env, options.cwd);
  if (path === undefined)
    return { config: parseConfig(embeddedDefault(env), env, 'embedded default'), path };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [
      `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const where =
      error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
    throw new ConfigError(path, [`not valid YAML${where}`]);
  }
  return { config: parseConfig(raw, env, path), path };
}
