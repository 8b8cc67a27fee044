/**
 * `${VAR}` and `${VAR:-fallback}` in every string of the config, read from the environment, and
 * where each string came from: written in the file, filled from the environment, or wholly one
 * `${…}` (only such a string may become the number or boolean the schema expects: `port: ${PORT}`,
 * while `port: "80"` written in the file stays an error).
 */
import { formatPath } from './path.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Where one string of the config came from. */
export interface StringSource {
  /** The whole string is one `${…}`: it may be coerced to the type the schema expects. */
  whole: boolean;
  /** Some part of it was read from the environment (not a fallback written in the file). */
  fromEnv: boolean;
  /** The variables it names, for messages (never their values). */
  variables: string[];
}

export interface Interpolated {
  value: unknown;
  /** By path (`providers.openai.keys[0]`), each string that held a `${…}` or was a literal. */
  sources: Map<string, StringSource>;
  /** Unset variables, by path. */
  problems: string[];
}

const reference = /\$\{(\w+)(?::-([^}]*))?\}/g;
const wholeReference = /^\$\{\w+(?::-[^}]*)?\}$/;

export function interpolate(raw: unknown, env: Env): Interpolated {
  const sources = new Map<string, StringSource>();
  const problems: string[] = [];
  const walk = (value: unknown, path: PropertyKey[]): unknown => {
    if (typeof value === 'string') {
      const source: StringSource = {
        whole: wholeReference.test(value),
        fromEnv: false,
        variables: [],
      };
      sources.set(formatPath(path), source);
      return value.replace(reference, (_, name: string, fallback?: string) => {
        source.variables.push(name);
        const found = env[name];
        if (found !== undefined && found !== '') {
          source.fromEnv = true;
          return found;
        }
        if (fallback !== undefined) return fallback;
        problems.push(`${formatPath(path)}: the variable ${name} is not set`);
        return '';
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  return { value: walk(raw, []), sources, problems };
}

const decimal = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The value a `${…}` string stands for where the schema expects `expected`, or undefined when it
 * is not one: numbers in decimal, booleans as true or false (any case).
 */
export function coerce(text: string, expected: 'number' | 'boolean'): number | boolean | undefined {
  const trimmed = text.trim();
  if (expected === 'number') return decimal.test(trimmed) ? Number(trimmed) : undefined;
  const lower = trimmed.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}
