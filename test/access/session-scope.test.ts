/**
 * A session token of scope CLIENT (what the dashboard signs in with) acts with its client's own
 * rights: an admin client's token is an admin, who may read clients and the audit log but not
 * change clients (that needs the key); a non-admin client's is not. A token of the default scope
 * USER is never an admin, whoever minted it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';

const ADMIN_KEY = 'ck-scope-admin-key-0001';
const SHOP_KEY = 'ck-scope-shop-key-0001';

const MINT = /* GraphQL */ `
  mutation ($input: SessionTokenInput!) {
    createSessionToken(input: $input) {
      token
      scope
    }
  }
`;

let gw: TestConduit;
beforeAll(async () => {
  gw = await startConduit({
    providers: { echo: { type: 'echo' } },
    clients: [
      { id: 'ops', key: ADMIN_KEY, admin: true },
      { id: 'shop', key: SHOP_KEY },
    ],
    auth: { sessionTokens: { secret: 'session-secret-for-scope-0123456789abcdef' } },
  });
});

const as = (credential: string, query: string, variables?: Record<string, unknown>) =>
  gql(gw.graphqlUrl, query, variables, { authorization: `Bearer ${credential}` });

async function mint(key: string, scope?: 'USER' | 'CLIENT') {
  const { body } = await as(key, MINT, { input: { user: 'dashboard', ...(scope && { scope }) } });
  return body.data.createSessionToken as { token: string; scope: string };
}

/** Whether the token may run an admin-only query (`viewer.admin` is the client's flag). */
const isAdmin = async (token: string) => {
  const { body } = await as(token, '{ clients(first: 1) { edges { node { id } } } }');
  if (body.data?.clients) return true;
  expect(body.errors?.[0].extensions.code).toBe('FORBIDDEN');
  return false;
};

describe('session token scopes', () => {
  it("gives a CLIENT token its client's admin flag, and a USER token never", async () => {
    const adminClient = await mint(ADMIN_KEY, 'CLIENT');
    expect(adminClient.scope).toBe('CLIENT');
    expect(await isAdmin(adminClient.token)).toBe(true);
    const adminUser = await mint(ADMIN_KEY);
    expect(adminUser.scope).toBe('USER');
    expect(await isAdmin(adminUser.token)).toBe(false);
    expect(await isAdmin((await mint(SHOP_KEY, 'CLIENT')).token)).toBe(false);
  });

  it('lets an admin CLIENT token read clients but not change them', async () => {
    const { token } = await mint(ADMIN_KEY, 'CLIENT');
    const listed = await as(token, '{ clients { edges { node { id } } } }');
    expect(listed.body.data.clients.edges.map((e: any) => e.node.id)).toEqual(['ops', 'shop']);
    const created = await as(token, 'mutation { createClient(input: { id: "sneaky" }) { key } }');
    expect(created.body.errors?.[0]).toMatchObject({
      message:
        'createClient needs an admin key: a session token may read clients but not change them',
      extensions: { code: 'FORBIDDEN' },
    });
    const withKey = await as(ADMIN_KEY, 'mutation { createClient(input: { id: "made" }) { key } }');
    expect(withKey.body.data.createClient.key).toMatch(/^cdt_/);
  });
});
