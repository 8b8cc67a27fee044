/**
 * The admin side of runtime clients on one instance: only admins may use it; a runtime client's
 * limits and budget hold like a config client's and follow updateClient; the clients connection
 * pages through both sources; the audit log holds every change (and reloads), never a key nor a
 * digest of one.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.js';
import {
  bearer,
  completeAs,
  CREATE,
  echoConfig,
  REVOKE,
  ROTATE,
  run,
  UPDATE,
  whoIs,
} from './harness.js';

const admin = { id: 'ops', key: 'ops-key-2b8d4e6f0a1c', admin: true };
const member = { id: 'member', key: 'member-key-5f3a9c7e1d2b' };

const CLIENTS = /* GraphQL */ `
  query ($first: Int, $after: String) {
    clients(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          source
          admin
          revoked
          createdAt
          expiresAt
          lastUsedAt
          spentUsd
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;
const AUDIT = /* GraphQL */ `
  query ($first: Int, $after: String, $filter: AuditFilter) {
    auditLog(first: $first, after: $after, filter: $filter) {
      edges {
        cursor
        node {
          id
          time
          actor
          action
          target
          before
          after
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

describe('runtime clients: admin operations', () => {
  let database: TestDatabase;
  let gw: TestConduit;
  const raw = (extra: Record<string, unknown> = {}) => ({
    ...echoConfig,
    database: { url: database.url },
    clients: [admin, member],
    ...extra,
  });

  beforeAll(async () => {
    database = createSqliteDatabase();
    gw = await startConduit(raw());
  });
  afterAll(async () => {
    await gw?.stop();
    await database?.drop();
  });

  it('refuses every admin operation to a non-admin (FORBIDDEN)', async () => {
    const operations: [string, Record<string, unknown>][] = [
      [CREATE, { input: { id: 'sneaky' } }],
      [UPDATE, { id: 'x', input: { admin: true } }],
      [ROTATE, { id: 'x', grace: 0 }],
      [REVOKE, { id: 'x' }],
      [CLIENTS, {}],
      [AUDIT, {}],
    ];
    for (const [query, variables] of operations) {
      const { body } = await gql(gw.graphqlUrl, query, variables, bearer(member.key));
      expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(body.errors?.[0]?.message).toMatch(/is for admins$/);
    }
    const { body } = await gql(gw.graphqlUrl, CLIENTS, {}, bearer(admin.key));
    expect(body.data.clients.edges.map((e: any) => e.node.id)).not.toContain('sneaky');
  });

  it('refuses a config client id and bad settings with a clear 4xx naming the field', async () => {
    const taken = await gql(gw.graphqlUrl, CREATE, { input: { id: member.id } }, bearer(admin.key));
    expect(taken.body.errors?.[0]).toMatchObject({
      message: '"member" is the id of a client in the config file',
      extensions: { code: 'BAD_USER_INPUT', field: 'input.id' },
    });
    const bad = await gql(
      gw.graphqlUrl,
      CREATE,
      { input: { id: 'limited', limits: [{ requests: 1, tokens: 5, perSeconds: 60 }] } },
      bearer(admin.key),
    );
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.limits.0',
    });
    const notRuntime = await gql(gw.graphqlUrl, REVOKE, { id: member.id }, bearer(admin.key));
    expect(notRuntime.body.errors?.[0]?.message).toMatch(/no runtime client "member"/);
    expect(await whoIs(gw, member.key)).toBe('member');
  });

  it("holds a runtime client's limits and budget, and applies updateClient at once", async () => {
    const { createClient } = await run(gw, admin.key, CREATE, {
      input: { id: 'metered', limits: [{ requests: 2, perSeconds: 3600 }] },
    });
    const key: string = createClient.key;
    expect(await completeAs(gw, key)).toBe('ok');
    expect(await completeAs(gw, key)).toBe('ok');
    expect(await completeAs(gw, key)).toBe('RATE_LIMITED');

    await run(gw, admin.key, UPDATE, {
      id: 'metered',
      input: { limits: [{ requests: 100, perSeconds: 3600 }], budget: { usd: 0 } },
    });
    expect(await completeAs(gw, key)).toBe('BUDGET_EXCEEDED');
    const { updateClient } = await run(gw, admin.key, UPDATE, {
      id: 'metered',
      input: { budget: null, models: ['other'] },
    });
    expect(updateClient).toMatchObject({ budget: null, models: ['other'] });
    expect(await completeAs(gw, key)).toBe('FORBIDDEN');
    await run(gw, admin.key, UPDATE, { id: 'metered', input: { models: null } });
    expect(await completeAs(gw, key)).toBe('ok');
  });

  it('pages through config and runtime clients, with source, lastUsedAt and spend', async () => {
    await run(gw, admin.key, CREATE, { input: { id: 'zz-idle' } });
    const seen: any[] = [];
    let after: string | null = null;
    do {
      const data: any = await run(gw, admin.key, CLIENTS, { first: 2, after });
      expect(data.clients.edges.length).toBeLessThanOrEqual(2);
      seen.push(...data.clients.edges.map((e: any) => e.node));
      after = data.clients.pageInfo.hasNextPage ? data.clients.pageInfo.endCursor : null;
    } while (after);
    const ids = seen.map((c) => c.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(['member', 'metered', 'ops', 'zz-idle']));
    const byId = new Map(seen.map((c) => [c.id, c]));
    expect(byId.get('ops')).toMatchObject({ source: 'CONFIG', admin: true, createdAt: null });
    expect(byId.get('metered')).toMatchObject({ source: 'RUNTIME', revoked: false, spentUsd: 0 });
    expect(Date.parse(byId.get('metered').lastUsedAt)).toBeGreaterThan(
      Date.parse(byId.get('metered').createdAt) - 1,
    );
    expect(byId.get('zz-idle')).toMatchObject({ source: 'RUNTIME', lastUsedAt: null });

    const badCursor = await gql(gw.graphqlUrl, CLIENTS, { after: 'nope' }, bearer(admin.key));
    expect(badCursor.body.errors?.[0]?.extensions?.field).toBe('after');
  });

  it('audits every change and every reload, with no key and no digest of one', async () => {
    const { createClient } = await run(gw, admin.key, CREATE, {
      input: { id: 'audited', models: ['chat'], expiresAt: '2099-01-01T00:00:00Z' },
    });
    const keys: string[] = [createClient.key];
    await run(gw, admin.key, UPDATE, { id: 'audited', input: { admin: true } });
    const { rotateClientKey } = await run(gw, admin.key, ROTATE, { id: 'audited', grace: 60 });
    keys.push(rotateClientKey.key);
    await run(gw, admin.key, REVOKE, { id: 'audited' });
    await gw.conduit.reload(
      parseConfig(raw({ clients: [admin, { ...member, models: ['chat'] }] }), {}),
    );

    const { auditLog } = await run(gw, admin.key, AUDIT, { filter: { target: 'audited' } });
    const entries = auditLog.edges.map((e: any) => e.node);
    expect(entries.map((e: any) => e.action)).toEqual([
      'client.revoke',
      'client.rotate_key',
      'client.update',
      'client.create',
    ]);
    for (const entry of entries) expect(entry.actor).toBe('ops');
    const create = entries[3];
    expect(create.before).toBeNull();
    expect(create.after).toMatchObject({
      id: 'audited',
      admin: false,
      models: ['chat'],
      expiresAt: '2099-01-01T00:00:00.000Z',
      revoked: false,
    });
    expect(entries[2].before.admin).toBe(false);
    expect(entries[2].after.admin).toBe(true);
    expect(entries[0].after.revoked).toBe(true);

    const reloads = await run(gw, admin.key, AUDIT, { filter: { action: 'config.reload' } });
    const [reload] = reloads.auditLog.edges.map((e: any) => e.node);
    expect(reload).toMatchObject({ actor: 'config', target: null });
    expect(reload.before.clients.find((c: any) => c.id === 'member').models).toBeNull();
    expect(reload.after.clients.find((c: any) => c.id === 'member').models).toEqual(['chat']);

    // Newest first, by cursor, one at a time: the same records as one page.
    const paged: string[] = [];
    let after: string | null = null;
    do {
      const page: any = await run(gw, admin.key, AUDIT, { first: 1, after });
      paged.push(...page.auditLog.edges.map((e: any) => e.node.id));
      after = page.auditLog.pageInfo.hasNextPage ? page.auditLog.pageInfo.endCursor : null;
    } while (after);
    const whole = await run(gw, admin.key, AUDIT, { first: 500 });
    expect(paged).toEqual(whole.auditLog.edges.map((e: any) => e.node.id));
    const since = await run(gw, admin.key, AUDIT, {
      filter: { since: new Date(Date.now() + 60_000).toISOString() },
    });
    expect(since.auditLog.edges).toEqual([]);

    // No key, no digest, in the answer, the table or the logs.
    const secrets = [admin.key, member.key, ...keys].flatMap((key) => [
      key,
      createHash('sha256').update(key).digest('hex'),
      createHash('sha256').update(key).digest('base64'),
    ]);
    const table = (
      await gw.conduit.services.usage.database.db.selectFrom('audit_log').selectAll().execute()
    )
      .map((row) => JSON.stringify(row))
      .join('\n');
    expect(table).toContain('client.rotate_key');
    const answer = JSON.stringify(whole);
    for (const secret of secrets) {
      expect(answer).not.toContain(secret);
      expect(table).not.toContain(secret);
      expect(gw.logs.join('')).not.toContain(secret);
    }
  });
});
