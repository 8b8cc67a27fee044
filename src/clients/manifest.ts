/**
 * The trusted-documents manifest of a runtime client (`createClient` / `updateClient`'s
 * `manifest`): the JSON GraphQL Codegen's client preset writes for persisted documents,
 * `{ "<hash>": "<document>" }`. Checked whole before it is stored: every document parses, and a
 * key that is a SHA-256 (64 hex digits, bare or `sha256:`-prefixed) is the SHA-256 of its
 * document, as Apollo's persisted-query extension computes it. Other ids (a build's own) are
 * taken as they are. The audit log keeps only `manifestSummary`.
 *
 * @see https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#persisted-documents
 */
import { hash } from 'node:crypto';
import { parse } from 'graphql';
import { z } from 'zod';

/** hash → document. */
export type Manifest = Readonly<Record<string, string>>;

/** Documents a manifest may hold. */
export const MAX_MANIFEST_DOCUMENTS = 10_000;
const MAX_ID_LENGTH = 256;

const sha256Id = /^(?:sha256:)?([0-9a-f]{64})$/i;

const sha256 = (text: string): string => hash('sha256', text, 'hex');

/** Shows at most so much of an id in a message. */
const shown = (id: string): string => (id.length > 80 ? `${id.slice(0, 77)}…` : id);

export const manifest = z.preprocess(
  // The JSON file's text is taken too, as it is written.
  (value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  },
  z
    .record(z.string(), z.string(), {
      error: 'must be the JSON object of hash → document that GraphQL Codegen writes',
    })
    .superRefine((documents, context) => {
      const ids = Object.keys(documents);
      if (ids.length === 0) context.addIssue({ code: 'custom', message: 'holds no document' });
      if (ids.length > MAX_MANIFEST_DOCUMENTS)
        context.addIssue({
          code: 'custom',
          message: `holds ${ids.length} documents; at most ${MAX_MANIFEST_DOCUMENTS}`,
        });
      for (const id of ids) {
        const problem = problemOf(id, documents[id]!);
        if (problem) context.addIssue({ code: 'custom', path: [id], message: problem });
      }
    }),
);

function problemOf(id: string, document: string): string | undefined {
  if (id.length === 0 || id.length > MAX_ID_LENGTH)
    return `an id must be 1 to ${MAX_ID_LENGTH} characters`;
  try {
    parse(document, { noLocation: true });
  } catch (error) {
    return `the document of "${shown(id)}" does not parse: ${(error as Error).message}`;
  }
  const digest = sha256Id.exec(id)?.[1];
  if (digest && digest.toLowerCase() !== sha256(document))
    return `"${shown(id)}" is not the SHA-256 of its document (${sha256(document)})`;
  return undefined;
}

/** What the audit log keeps of a manifest: how many documents, and a digest of the whole. */
export function manifestSummary(documents: Manifest): { documents: number; sha256: string } {
  const entries = Object.entries(documents).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { documents: entries.length, sha256: sha256(JSON.stringify(entries)) };
}
