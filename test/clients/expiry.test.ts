/**
 * A key's life: an expired key (config or runtime) is 401 with its expiry in the message; the
 * alert webhook, a real HTTP receiver here, hears of a key expiring within the warning window
 * (once) and of a revoked client, and never sees a key.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { startWebhook, type Webhook } from '../usage-e2e/harness.js';
import { bearer, CREATE, echoConfig, REVOKE, run, UPDATE, whoIs } from './harness.js';

const DAY = 86_400_000;
const admin = { id: 'ops', key: 'ops-key-9e4b2c6a8d0f', admin: true };
const expired = { id: 'old', key: 'old-key-3a7f1e9c5b2d', expiresAt: '2020-01-01T00:00:00Z' };
const soon = {
  id: 'soon',
  key: 'soon-key-8c2e6a4f0b1d',
  expiresAt: new Date(Date.now() + 2 * DAY).toISOString(),
};
const later = {
  id: 'later',
  key: 'later-key-1f5d9b3e7a2c',
  expiresAt: new Date(Date.now() + 10 * DAY).toISOString(),
};

describe('key expiry and its alerts', () => {
  let webhook: Webhook;
  let gw: TestConduit;

  beforeAll(async () => {
    webhook = await startWebhook();
    gw = await startConduit({
      ...echoConfig,
      clients: [admin, expired, soon, later],
      alerts: { webhookUrl: webhook.url, keyExpiryWarningDays: 3 },
    });
  });
  afterAll(async () => gw?.stop());

  it('refuses an expired config key with 401 naming when it expired, on GraphQL and REST', async () => {
    const { status, body } = await gql(gw.graphqlUrl, '{ viewer { id } }', {}, bearer(expired.key));
    expect(status).toBe(401);
    expect(body.errors?.[0]).toMatchObject({
      message: 'API key expired at 2020-01-01T00:00:00.000Z',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const rest = await fetch(`${gw.url}/v1/models`, { headers: bearer(expired.key) });
    expect(rest.status).toBe(401);
    expect(JSON.stringify(await rest.json())).toContain('API key expired at 2020-01-01');
    expect(await whoIs(gw, soon.key)).toBe('soon');
  });

  it('alerts a key expiring within the warning window once, and a revoked client', async () => {
    await webhook.received(1);
    expect(webhook.posts[0]!.body).toMatchObject({
      type: 'key_expiring',
      clientId: 'soon',
      source: 'config',
      expiresAt: new Date(soon.expiresAt).toISOString(),
    });

    // A runtime client expiring tomorrow: alerted when made. Checking again alerts nothing new.
    const tomorrow = new Date(Date.now() + DAY).toISOString();
    const { createClient } = await run(gw, admin.key, CREATE, {
      input: { id: 'temp', expiresAt: tomorrow },
    });
    await webhook.received(2);
    expect(webhook.posts[1]!.body).toMatchObject({
      type: 'key_expiring',
      clientId: 'temp',
      source: 'runtime',
      expiresAt: tomorrow,
    });
    await gw.conduit.services.infra.expiry.check();

    await run(gw, admin.key, REVOKE, { id: 'temp' });
    await webhook.received(3);
    expect(webhook.posts[2]!.body).toMatchObject({
      type: 'client_revoked',
      clientId: 'temp',
      actor: 'ops',
    });
    await gw.conduit.services.infra.alerts.settled();
    expect(webhook.posts.map((p) => p.body.clientId)).toEqual(['soon', 'temp', 'temp']);

    const sent = JSON.stringify(webhook.posts);
    for (const key of [createClient.key as string, soon.key, admin.key]) {
      expect(sent).not.toContain(key);
      expect(sent).not.toContain(createHash('sha256').update(key).digest('hex'));
    }
  });

  it('refuses a runtime key once its expiry (set by updateClient) has passed', async () => {
    const { createClient } = await run(gw, admin.key, CREATE, { input: { id: 'brief' } });
    expect(await whoIs(gw, createClient.key)).toBe('brief');
    await run(gw, admin.key, UPDATE, {
      id: 'brief',
      input: { expiresAt: '2021-06-01T12:00:00Z' },
    });
    expect(await whoIs(gw, createClient.key)).toBe(
      '401: API key expired at 2021-06-01T12:00:00.000Z',
    );
    await run(gw, admin.key, UPDATE, { id: 'brief', input: { expiresAt: null } });
    expect(await whoIs(gw, createClient.key)).toBe('brief');
  });
});
