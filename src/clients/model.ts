/**
 * A runtime client as the registry holds it, and its row in the `clients` table. The input of
 * `createClient` / `updateClient` is checked by the same zod pieces as a config client's; a
 * trusted-documents manifest by `manifest.ts`.
 */
import { z } from 'zod';
import { clientBudget, rateLimit, type ClientConfig, type RateLimit } from '../config/schema.js';
import { manifest, manifestSummary, type Manifest } from './manifest.js';
import type { ClientsTable } from './tables.js';

export const OperationsModes = ['any', 'persisted'] as const;
export type OperationsMode = (typeof OperationsModes)[number];

export interface RuntimeClient {
  id: string;
  admin: boolean;
  models: readonly string[] | undefined;
  rateLimits: readonly RateLimit[];
  budget: ClientConfig['budget'];
  origins: readonly string[];
  operations: OperationsMode;
  /** Its trusted documents (hash → document), which `persisted` limits it to; null: none. */
  manifest: Manifest | null;
  expiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  revokedAt: number | null;
  createdBy: string;
  keySha256: string;
  previousKeySha256: string | null;
  previousKeyUntil: number | null;
}

const origin = z
  .string()
  .refine(
    (value) => URL.canParse(value) && new URL(value).origin === value,
    'must be an origin such as https://app.example.com (scheme, host and port; no path, no slash)',
  );

/** What an admin may set on a client; absent leaves a field as it is, null clears it. */
export const clientSettings = z.strictObject({
  admin: z.boolean().optional(),
  models: z.array(z.string().min(1)).nullable().optional(),
  limits: z.array(rateLimit).optional(),
  budget: clientBudget.nullable().optional(),
  origins: z.array(origin).optional(),
  // PERSISTED needs a manifest, given now or before: the registry checks the two together.
  operations: z.enum(OperationsModes).optional(),
  manifest: manifest.nullable().optional(),
  expiresAt: z.date().nullable().optional(),
});
export type ClientSettings = z.infer<typeof clientSettings>;

export const clientId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.@:-]+$/, 'letters, digits and _ . @ : - only');

/** The settings applied over a client (a new one starts from the defaults). */
export function applySettings(
  base: RuntimeClient,
  settings: ClientSettings,
  now: number,
): RuntimeClient {
  return {
    ...base,
    ...(settings.admin !== undefined && { admin: settings.admin }),
    ...(settings.models !== undefined && { models: settings.models ?? undefined }),
    ...(settings.limits !== undefined && { rateLimits: settings.limits }),
    ...(settings.budget !== undefined && { budget: settings.budget ?? undefined }),
    ...(settings.origins !== undefined && { origins: settings.origins }),
    ...(settings.operations !== undefined && { operations: settings.operations }),
    ...(settings.manifest !== undefined && { manifest: settings.manifest }),
    ...(settings.expiresAt !== undefined && {
      expiresAt: settings.expiresAt ? settings.expiresAt.getTime() : null,
    }),
    updatedAt: now,
  };
}

export function toClientRow(client: RuntimeClient): ClientsTable {
  return {
    id: client.id,
    admin: client.admin ? 1 : 0,
    models: client.models ? JSON.stringify(client.models) : null,
    rate_limits: JSON.stringify(client.rateLimits),
    budget: client.budget ? JSON.stringify(client.budget) : null,
    origins: JSON.stringify(client.origins),
    operations: client.operations,
    manifest: client.manifest ? JSON.stringify(client.manifest) : null,
    expires_at: client.expiresAt,
    created_at: client.createdAt,
    updated_at: client.updatedAt,
    revoked_at: client.revokedAt,
    created_by: client.createdBy,
    key_sha256: client.keySha256,
    previous_key_sha256: client.previousKeySha256,
    previous_key_until: client.previousKeyUntil,
  };
}

const num = (value: number | null): number | null => (value === null ? null : Number(value));

export function fromClientRow(row: ClientsTable): RuntimeClient {
  return {
    id: row.id,
    admin: Number(row.admin) === 1,
    models: row.models === null ? undefined : (JSON.parse(row.models) as string[]),
    rateLimits: JSON.parse(row.rate_limits) as RateLimit[],
    budget: row.budget === null ? undefined : (JSON.parse(row.budget) as ClientConfig['budget']),
    origins: JSON.parse(row.origins) as string[],
    operations: row.operations === 'persisted' ? 'persisted' : 'any',
    manifest: row.manifest ? (JSON.parse(row.manifest) as Manifest) : null,
    expiresAt: num(row.expires_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    revokedAt: num(row.revoked_at),
    createdBy: row.created_by,
    keySha256: row.key_sha256,
    previousKeySha256: row.previous_key_sha256,
    previousKeyUntil: num(row.previous_key_until),
  };
}

/**
 * What the audit log keeps of a client: every setting, never its key nor a digest of one; of
 * its manifest, only how many documents it holds and a digest of it (the documents can be long).
 * Listed field by field, so a field added later is left out until someone decides it may go in.
 */
export function auditView(client: RuntimeClient): Record<string, unknown> {
  return {
    id: client.id,
    admin: client.admin,
    models: client.models ?? null,
    limits: client.rateLimits,
    budget: client.budget ?? null,
    origins: client.origins,
    operations: client.operations,
    manifest: client.manifest && manifestSummary(client.manifest),
    expiresAt: client.expiresAt === null ? null : new Date(client.expiresAt).toISOString(),
    revoked: client.revokedAt !== null,
    ...(client.previousKeyUntil !== null && {
      previousKeyValidUntil: new Date(client.previousKeyUntil).toISOString(),
    }),
  };
}
