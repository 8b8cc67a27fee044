/**
 * Trusted documents: a client set to `operations: { mode: persisted, manifest }` (a runtime
 * client: `operations: PERSISTED` with its `manifest`) may run only the documents of its manifest (the JSON GraphQL Codegen's client preset writes for persisted
 * documents: `{ "<hash>": "<document>" }`), sent by hash, in Apollo's form
 * (`extensions.persistedQuery.sha256Hash`) or the plain `documentId`. Anything else it sends is
 * refused before it is parsed. Other clients (and GraphiQL) send documents as before.
 *
 * Yoga's own handler takes them through `@graphql-yoga/plugin-persisted-operations`
 * (`usePersistedDocuments`); the transport and the WebSocket edge, which run documents through
 * the operation runner, resolve them with `resolvePersisted` before the runner sees them.
 *
 * @see https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#persisted-documents
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClientInfo } from '../auth.js';

/** hash → document, per persisted client. */
export type Manifests = ReadonlyMap<string, ReadonlyMap<string, string>>;

export const PERSISTED_ONLY = 'PERSISTED_QUERY_ONLY';
export const PERSISTED_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND';

export const persistedOnlyMessage =
  'this client may run only its persisted documents, sent by hash (extensions.persistedQuery.sha256Hash or documentId); a query text is refused';

/**
 * Reads every persisted config client's manifest; an unreadable or malformed one is an error.
 * (A runtime client's comes from the database with it: `ClientInfo.documents`.)
 */
export function loadManifests(clients: readonly ClientInfo[], cwd = process.cwd()): Manifests {
  const manifests = new Map<string, Map<string, string>>();
  for (const client of clients) {
    const operations = client.operations;
    if (client.source !== 'config' || operations?.mode !== 'persisted') continue;
    const where = `the manifest of client "${client.id}" (${operations.manifest})`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(resolve(cwd, operations.manifest), 'utf8'));
    } catch (error) {
      throw new Error(`${where} cannot be read as JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error(`${where} must be an object of hash → document`);
    const documents = new Map<string, string>();
    for (const [hash, document] of Object.entries(parsed)) {
      if (typeof document !== 'string' || !document.trim())
        throw new Error(`${where}: "${hash}" must name a document (a string)`);
      documents.set(hash, document);
    }
    manifests.set(client.id, documents);
  }
  return manifests;
}

/** The id a request names its persisted document by, in either form; null when none. */
export function persistedIdOf(params: {
  extensions?: Record<string, unknown> | null | undefined;
  documentId?: unknown;
}): string | null {
  if (typeof params.documentId === 'string' && params.documentId) return params.documentId;
  const persisted = params.extensions?.persistedQuery as
    { version?: unknown; sha256Hash?: unknown } | undefined;
  if (typeof persisted?.sha256Hash === 'string' && persisted.sha256Hash)
    return persisted.sha256Hash;
  return null;
}

export type Resolved = { query: string } | { code: string; message: string };

/**
 * For a persisted client: its document for the id the request gives, or the refusal (a query
 * text, no id, an id its manifest lacks). `documents` undefined: the client is not persisted,
 * and the request goes as it is.
 */
export function resolvePersisted(
  documents: ReadonlyMap<string, string>,
  params: {
    query?: unknown;
    extensions?: Record<string, unknown> | null | undefined;
    documentId?: unknown;
  },
): Resolved {
  if (typeof params.query === 'string' && params.query.trim() !== '')
    return { code: PERSISTED_ONLY, message: persistedOnlyMessage };
  const id = persistedIdOf(params);
  if (id === null) return { code: PERSISTED_ONLY, message: persistedOnlyMessage };
  const query = documents.get(id);
  if (query === undefined)
    return { code: PERSISTED_NOT_FOUND, message: `no persisted document "${id}" for this client` };
  return { query };
}
