/** Relay's PageInfo, for the cursor connections (`clients`, `auditLog`). */
import { builder } from '../builder.js';

export interface PageInfoShape {
  hasNextPage: boolean;
  endCursor: string | null;
}

export const PageInfoRef = builder.objectRef<PageInfoShape>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

/** The page size asked for: 1 to `max`, `fallback` when absent. */
export function pageSize(first: number | null | undefined, fallback: number, max: number): number {
  if (first === null || first === undefined) return fallback;
  if (!Number.isInteger(first) || first < 1 || first > max)
    throw new RangeError(`first must be from 1 to ${max}`);
  return first;
}

/** An opaque cursor: `kind:value` in base64url. */
export const toCursor = (kind: string, value: string | number): string =>
  Buffer.from(`${kind}:${value}`).toString('base64url');

/** The value of a cursor of this kind, or undefined when it is not one. */
export function fromCursor(kind: string, cursor: string): string | undefined {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  return text.startsWith(`${kind}:`) ? text.slice(kind.length + 1) : undefined;
}
