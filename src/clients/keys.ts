/**
 * Runtime client keys: `cdt_` and 32 random bytes in base64url (256 bits), shown once. Only the
 * SHA-256 of a key is stored.
 */
import { hash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'cdt_';

export const generateKey = (): string => KEY_PREFIX + randomBytes(32).toString('base64url');

/** Hex SHA-256, as `clients[].keySha256` and the `clients` table hold it. */
export const keyDigest = (key: string): string => hash('sha256', key, 'hex');
