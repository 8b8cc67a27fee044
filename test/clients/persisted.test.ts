/**
 * Trusted documents for runtime clients: an admin makes a client `operations: PERSISTED` with
 * its manifest (GraphQL Codegen's hash → document JSON) through createClient; the client runs
 * its documents by hash (Apollo's persistedQuery extension and the plain documentId, over HTTP
 * and WebSocket) and is refused an ad-hoc document, on the replica that made it and on a second
 * one on the same database. A manifest is checked before it is stored (every document parses,
 * a SHA-256 id is its document's; PERSISTED needs one), and the audit log keeps only its count
 * and digest.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsClient } from '../helpers/clients.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import {
  createPostgresDatabase,
  createSqliteDatabase,
  describePostgres,
  postgresUnavailable,
  type TestDatabase,
} from '../helpers/databases.js';
import { bearer, CREATE, echoConfig, nextChange, run, UPDATE } from './harness.js';

const SEEN_WITHIN_MS = 1_000;
const admin = { id: 'ops', key: 'ops-key-persisted-4e1a9c', admin: true };

const VIEWER = 'query Viewer { viewer { id } }';
const COMPLETE = `mutation Complete($text: String!) {
  complete(input: { model: "chat", messages: [{ role: USER, content: $text }] }) { content }
}`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const MANIFEST = { [sha256(VIEWER)]: VIEWER, [sha256(COMPLETE)]: COMPLETE };

const AUDIT = /* GraphQL */ `
  query ($target: String) {
    auditLog(filter: { target: $target }) {
      edges {
        node {
          action
          after
        }
      }
    }
  }
`;

async function post(gw: TestConduit, key: string, body: Record<string, unknown>) {
  const response = await fetch(gw.graphqlUrl, {
    method: 'POST',
    headers: {
      ...bearer(key),
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** An admin's createClient / updateClient, answering its first error's message when refused. */
async function attempt(gw: TestConduit, query: string, variables: Record<string, unknown>) {
  const { body } = await post(gw, admin.key, { query, variables });
  return body.errors ? `refused: ${body.errors[0].message as string}` : body.data;
}

/** What a persisted client's calls on `gw` give, in every form. */
async function runsOnlyItsManifest(gw: TestConduit, id: string, key: string): Promise<void> {
  const byApollo = await post(gw, key, {
    extensions: { persistedQuery: { version: 1, sha256Hash: sha256(VIEWER) } },
  });
  expect(byApollo).toEqual({ status: 200, body: { data: { viewer: { id } } } });
  const byId = await post(gw, key, {
    documentId: sha256(COMPLETE),
    variables: { text: 'by id' },
  });
  expect(byId).toEqual({ status: 200, body: { data: { complete: { content: 'by id' } } } });
  const adHoc = await post(gw, key, { query: VIEWER });
  expect([adHoc.status, adHoc.body.errors?.[0].extensions.code]).toEqual([
    400,
    'PERSISTED_QUERY_ONLY',
  ]);
  const unknown = await post(gw, key, { documentId: sha256('{ providers { name } }') });
  expect(unknown.body.errors?.[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

  const ws = wsClient(gw.wsUrl, `Bearer ${key}`);
  const overWs = await ws
    .iterate({
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256(VIEWER) } },
    })
    .next();
  expect(overWs.value).toEqual({ data: { viewer: { id } } });
  const refused = await ws
    .iterate({ query: VIEWER })
    .next()
    .catch((errors: unknown) => errors);
  expect(refused).toEqual([
    expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_ONLY' } }),
  ]);
}

function suite(makeDatabase: () => Promise<TestDatabase>): void {
  let database: TestDatabase;
  let one: TestConduit;
  let two: TestConduit;

  beforeAll(async () => {
    database = await makeDatabase();
    const config = {
      ...echoConfig,
      database: { url: database.url },
      clients: [admin],
      runtimeClients: { pollIntervalMs: 100 },
    };
    one = await startConduit(config);
    two = await startConduit(config);
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await database?.drop();
  });

  it('runs a runtime client by hash only, on both replicas', async () => {
    const id = `web-${Math.random().toString(36).slice(2, 8)}`;
    const seen = nextChange(two, SEEN_WITHIN_MS);
    const { createClient } = await run(one, admin.key, CREATE, {
      input: { id, operations: 'PERSISTED', manifest: MANIFEST },
    });
    const key: string = createClient.key;
    await runsOnlyItsManifest(one, id, key);
    await seen;
    await runsOnlyItsManifest(two, id, key);

    // Let free again: any document, on the second replica too.
    const freed = nextChange(two, SEEN_WITHIN_MS);
    await run(one, admin.key, UPDATE, { id, input: { operations: 'ANY' } });
    await freed;
    expect((await post(two, key, { query: VIEWER })).body).toEqual({ data: { viewer: { id } } });
  });

  it('checks a manifest before storing it, naming what is wrong', async () => {
    const create = (input: Record<string, unknown>) =>
      attempt(one, CREATE, {
        input: { id: `bad-${Math.random().toString(36).slice(2)}`, ...input },
      });
    expect(await create({ operations: 'PERSISTED' })).toMatch(
      /^refused: operations PERSISTED needs a manifest: input\.manifest/,
    );
    const wrongHash = sha256('{ viewer { admin } }');
    expect(await create({ operations: 'PERSISTED', manifest: { [wrongHash]: VIEWER } })).toBe(
      `refused: input.manifest.${wrongHash}: "${wrongHash}" is not the SHA-256 of its document (${sha256(VIEWER)})`,
    );
    expect(
      await create({ operations: 'PERSISTED', manifest: { 'build-7': 'query { viewer { ' } }),
    ).toMatch(/^refused: input\.manifest\.build-7: the document of "build-7" does not parse: /);
    expect(await create({ operations: 'PERSISTED', manifest: ['not', 'an object'] })).toMatch(
      /^refused: input\.manifest: must be the JSON object of hash → document/,
    );

    // Its text is taken too; a persisted client cannot lose its manifest.
    const id = `text-${Math.random().toString(36).slice(2, 8)}`;
    await run(one, admin.key, CREATE, {
      input: { id, operations: 'PERSISTED', manifest: JSON.stringify(MANIFEST) },
    });
    expect(await attempt(one, UPDATE, { id, input: { manifest: null } })).toMatch(
      /^refused: operations PERSISTED needs a manifest/,
    );
  });

  it('keeps only a count and a digest of the manifest in the audit log', async () => {
    const id = `audit-${Math.random().toString(36).slice(2, 8)}`;
    await run(one, admin.key, CREATE, {
      input: { id, operations: 'PERSISTED', manifest: MANIFEST },
    });
    const { auditLog } = await run(one, admin.key, AUDIT, { target: id });
    const [created] = auditLog.edges.map((e: any) => e.node);
    expect(created.action).toBe('client.create');
    expect(created.after).toMatchObject({
      operations: 'persisted',
      manifest: { documents: 2, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const text = JSON.stringify(auditLog);
    expect(text).not.toContain('viewer');
    expect(text).not.toContain(sha256(VIEWER));
  });
}

const postgres = await postgresUnavailable();

describe('persisted runtime clients on SQLite (two replicas, polling)', () => {
  suite(async () => createSqliteDatabase());
});

describePostgres('persisted runtime clients on Postgres (two replicas, polling)', postgres, () => {
  suite(createPostgresDatabase);
});
