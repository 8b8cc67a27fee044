/**
 * Relay cursor connections (`clients`, `auditLog`, `requests`): the `<Name>Edge` and
 * `<Name>Connection` types of a node, `PageInfo`, and what each list's resolver repeats: the
 * page size asked for, the cursor it continues after, and the page built from one row more than
 * it shows (that row says whether another page follows).
 *
 * @see https://relay.dev/graphql/connections.htm
 */
import type { ObjectRef } from '@pothos/core';
import { badInput } from '../../gateway/errors.js';
import { builder } from '../builder.js';

type Types = typeof builder.$inferSchemaTypes;

export interface PageInfoShape {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Page<T> {
  edges: Edge<T>[];
  pageInfo: PageInfoShape;
}

export const PageInfoRef = builder.objectRef<PageInfoShape>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

/** The connection type of `node`: `<name>Connection`, its edges `<name>Edge`. */
export function connectionRef<T>(
  name: string,
  node: ObjectRef<Types, T>,
): ObjectRef<Types, Page<T>> {
  const edge = builder.objectRef<Edge<T>>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.expose('node', { type: node }),
    }),
  });
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [edge], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
    }),
  });
}

/** The page size asked for: 1 to `max`, `fallback` when absent; else BAD_USER_INPUT on `first`. */
export function pageSize(first: number | null | undefined, fallback = 50, max = 500): number {
  if (first === null || first === undefined) return fallback;
  if (!Number.isInteger(first) || first < 1 || first > max)
    throw badInput('first', `first must be from 1 to ${max}`);
  return first;
}

/** An opaque cursor: `kind:value` in base64url. */
export const toCursor = (kind: string, value: string | number): string =>
  Buffer.from(`${kind}:${value}`).toString('base64url');

/** The value of `after`, a cursor of this kind; else BAD_USER_INPUT on `after`. */
export function afterOf(kind: string, after: string | null | undefined): string | undefined {
  if (after === null || after === undefined) return undefined;
  const text = Buffer.from(after, 'base64url').toString('utf8');
  if (!text.startsWith(`${kind}:`)) throw badInput('after', 'after is not a cursor of this list');
  return text.slice(kind.length + 1);
}

/** `afterOf` for a list ordered by an integer key (a row's `seq` or `id`). */
export function afterNumberOf(kind: string, after: string | null | undefined): number | undefined {
  const value = afterOf(kind, after);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number)) throw badInput('after', 'after is not a cursor of this list');
  return number;
}

/** The page of `size` rows out of `rows` (read with one more, when there is one). */
export function pageOf<T>(rows: readonly T[], size: number, cursorOf: (row: T) => string): Page<T> {
  const edges = rows.slice(0, size).map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null },
  };
}
