/**
 * Reading fields of a client's JSON body, for every REST route: each wrong value is a 400 that
 * names the field (`messages[2].content must be a string`), never a type error later on.
 */
import { badInput } from '../gateway/errors.js';

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const wrongType = (name: string, what: string) => badInput(name, `${name} must be ${what}`);

const fieldName = (key: string, at?: string) => (at ? `${at}.${key}` : key);

export function asString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw wrongType(name, 'a string');
  return value;
}

export function requiredString(object: Json, key: string, at?: string): string {
  const name = fieldName(key, at);
  const value = object[key];
  if (value === undefined || value === null) throw badInput(name, `${name} is required`);
  return asString(value, name);
}

export function optionalString(object: Json, key: string, at?: string): string | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  return asString(value, fieldName(key, at));
}

export function optionalNumber(object: Json, key: string): number | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType(key, 'a number');
  return value;
}

export function optionalBoolean(object: Json, key: string): boolean | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw wrongType(key, 'a boolean');
  return value;
}

/** A client's value in an error message: its JSON, cut short; never a throw (nested too deep). */
export function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    return '(a value nested too deep to show)';
  }
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
