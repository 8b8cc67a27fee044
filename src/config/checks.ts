/**
 * What the schema cannot see, checked once the config is valid: two clients holding the same key
 * (the key would log in as whichever comes last), and keys written in the file itself rather
 * than read from the environment. Messages name paths, never a key.
 */
import { hash } from 'node:crypto';
import type { StringSource } from './interpolate.js';
import type { Config } from './schema.js';

/** `clients[0].key and clients[2].key are the same key`: a key, a keySha256, or one of each. */
export function duplicateClientKeys(clients: Config['clients']): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  clients.forEach((client, i) => {
    const path = client.key !== undefined ? `clients[${i}].key` : `clients[${i}].keySha256`;
    const digest =
      client.key !== undefined
        ? hash('sha256', client.key, 'hex')
        : client.keySha256!.toLowerCase();
    const first = seen.get(digest);
    if (first) problems.push(`${first} and ${path} are the same key`);
    else seen.set(digest, path);
  });
  return problems;
}

/**
 * Provider and client keys that no environment variable filled: written in the file, or the
 * fallback of a `${VAR:-…}` written there. Warnings, not errors: a local setup may mean it.
 */
export function literalKeys(config: Config, sources: ReadonlyMap<string, StringSource>): string[] {
  const warnings: string[] = [];
  const check = (path: string, advice: string) => {
    const source = sources.get(path);
    if (!source || source.fromEnv) return;
    const how = source.variables.length > 0 ? ` (the fallback after ${source.variables[0]})` : '';
    warnings.push(`${path} is a literal in the file${how}: ${advice}`);
  };
  for (const [name, provider] of Object.entries(config.providers)) {
    provider.keys.forEach((_, i) => check(`providers.${name}.keys[${i}]`, 'use ${VAR}'));
  }
  config.clients.forEach((client, i) => {
    if (client.key !== undefined) check(`clients[${i}].key`, 'use ${VAR} or keySha256');
  });
  const tokens = config.auth.sessionTokens;
  if (tokens?.secret !== undefined) check('auth.sessionTokens.secret', 'use ${VAR}');
  if (tokens?.privateKey !== undefined) check('auth.sessionTokens.privateKey', 'use ${VAR}');
  return warnings;
}
