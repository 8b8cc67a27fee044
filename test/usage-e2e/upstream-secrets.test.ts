/**
 * Upstream text never leaks to tenants: an upstream answering 400, 401 and 500 with bodies that
 * echo a bearer token, a database URL with its password, key-shaped strings and the config's
 * own secrets (a provider key and a client key filled from ${VAR}s, the webhook's token) shows
 * none of them in a GraphQL answer (message, extensions, attempts), a REST answer, the alert
 * webhook's payload or a log line. Tenants see the status, a short message and the request id.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openaiCompletion, resolveReply } from '../fakes/openai.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';
import { createFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { bearer, startWebhook, type Webhook } from './harness.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const UP_KEY = `upkey-${hex(12)}`; // not key-shaped: only the config knows it is a secret
const DOWN_KEY = `downkey-${hex(12)}`;
const CLIENT_KEY = `client-${hex(12)}`;
const HOOK_TOKEN = `hooktoken${hex(12)}`;
const BEARER = `upstream-SECRET-${hex(8)}`;
const DB_PASSWORD = `hunter2${hex(6)}`;
const SK = `sk-ant-api03-${hex(16)}`;
const GOOGLE = `AIzaSy${hex(16)}`;
const API_KEY_VALUE = hex(20);
const SECRETS = [
  UP_KEY,
  DOWN_KEY,
  CLIENT_KEY,
  HOOK_TOKEN,
  BEARER,
  DB_PASSWORD,
  SK,
  GOOGLE,
  API_KEY_VALUE,
];

/** What a careless upstream (or the proxy before it) says back. */
const hostile = (status: number) =>
  `upstream failed with ${status}: Authorization: Bearer ${BEARER} was sent to ` +
  `postgres://admin:${DB_PASSWORD}@db.internal/x; anthropic said ${SK}; google key ${GOOGLE}; ` +
  `retry with api_key=${API_KEY_VALUE} or ${UP_KEY} / ${DOWN_KEY}; client ${CLIENT_KEY}; ` +
  `hook /hooks/${HOOK_TOKEN}`;

describe('upstream error text reaching tenants, webhooks and logs', () => {
  let upstream: FakeUpstream;
  let webhook: Webhook;
  let gw: TestConduit;
  const seen: string[] = [];

  beforeAll(async () => {
    // The user message says how to fail: "fail 400", "fail 401", "fail 500".
    upstream = await createFakeUpstream((call) => {
      const text = JSON.stringify(call.json ?? '');
      const status = Number(/fail (\d{3})/.exec(text)?.[1] ?? 200);
      if (status === 200) {
        return { kind: 'json', body: openaiCompletion(resolveReply({ text: 'ok' }, call.json)) };
      }
      const type =
        status === 401
          ? 'invalid_api_key'
          : status === 400
            ? 'invalid_request_error'
            : 'server_error';
      return {
        kind: 'json',
        status,
        body: { error: { message: hostile(status), type, param: null, code: type } },
      };
    });
    onDispose(() => upstream.close());
    webhook = await startWebhook();
    gw = await startConduit(
      {
        providers: {
          up: { type: 'openai', baseUrl: `${upstream.url}/v1`, keys: ['${UP_KEY}'] },
          down: { type: 'openai', baseUrl: `${upstream.url}/v1`, keys: ['${DOWN_KEY}'] },
        },
        clients: [{ id: 'web', key: '${CLIENT_KEY}' }],
        alerts: { webhookUrl: `${new URL(webhook.url).origin}/hooks/${HOOK_TOKEN}` },
        retry: { attempts: 1 },
        cache: { enabled: false },
      },
      { UP_KEY, DOWN_KEY, CLIENT_KEY },
    );
  });

  afterAll(async () => {
    await gw?.stop();
  });

  const graphql = async (model: string, content: string) => {
    const response = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(CLIENT_KEY) },
      body: JSON.stringify({
        query: `mutation ($input: CompletionInput!) {
          complete(input: $input) { content attempts { status error } }
        }`,
        variables: { input: { model, messages: [{ role: 'USER', content }] } },
      }),
    });
    const text = await response.text();
    seen.push(text);
    return JSON.parse(text) as { errors?: { message: string; extensions: Record<string, any> }[] };
  };
  const rest = async (model: string, content: string) => {
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(CLIENT_KEY) },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    });
    const text = await response.text();
    seen.push(text);
    return { status: response.status, requestId: response.headers.get('x-request-id'), text };
  };

  it('answers a 400 with the status, a masked message and the request id', async () => {
    const { errors } = await graphql('up/gpt-4o-mini', 'fail 400');
    const error = errors![0]!;
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/up refused the request: .*400/);
    expect(error.message).toContain('[redacted]');
    expect(error.extensions.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.extensions.attempts[0].error).toContain('[redacted]');

    const answer = await rest('up/gpt-4o-mini', 'fail 400');
    expect(answer.status).toBe(400);
    expect(answer.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(answer.text).error.message).toContain('[redacted]');
  });

  it('answers a 500 with the same masking', async () => {
    const { errors } = await graphql('up/gpt-4o-mini', 'fail 500');
    expect(errors![0]!.extensions.code).toBe('UPSTREAM_ERROR');
    expect(errors![0]!.extensions.attempts).toEqual([
      expect.objectContaining({ status: 'server', error: expect.stringContaining('500') }),
    ]);
    expect((await rest('up/gpt-4o-mini', 'fail 500')).status).toBe(502);
  });

  it('answers a 401 with the key refused, and alerts without the upstream secrets', async () => {
    const { errors } = await graphql('up/gpt-4o-mini', 'fail 401');
    expect(errors![0]!.extensions.attempts).toEqual([
      expect.objectContaining({ status: 'auth', error: 'up answered 401: the key was refused' }),
    ]);
    expect((await rest('down/gpt-4o-mini', 'fail 401')).status).toBe(502);
    await webhook.received(2);
    const alerts = webhook.posts.map((p) => p.body);
    expect(alerts.map((a) => [a.type, a.provider]).sort()).toEqual([
      ['key_disabled', 'down'],
      ['key_disabled', 'up'],
    ]);
    expect(gw.logs.join('\n')).toMatch(/alert: key_disabled/);
  });

  it('shows no secret in any answer, alert payload or log line', () => {
    const captured = [
      ...seen,
      ...webhook.posts.map((p) => JSON.stringify(p.body)),
      ...gw.logs,
    ].join('\n');
    expect(captured).toContain('[redacted]');
    for (const secret of SECRETS) expect(captured).not.toContain(secret);
  });
});
