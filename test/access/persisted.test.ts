/**
 * Trusted documents: a client set to `operations: { mode: persisted, manifest }` runs the
 * documents of its manifest (GraphQL Codegen's persisted-documents JSON, hash → document) by
 * hash, in Apollo's form and the plain `documentId` form, over HTTP (POST and GET), SSE and
 * WebSocket; anything else it sends is refused before parsing (a broken document gets the
 * same refusal, not a syntax error). Other clients send any document.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createSseClient } from 'graphql-sse';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, wsClient } from '../helpers/clients.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';
import { onDispose } from '../helpers/dispose.js';

const WEB_KEY = 'ck-persisted-web-0001';
const BACKEND_KEY = 'ck-persisted-backend-0001';

const VIEWER = 'query Viewer { viewer { id } }';
const STREAM = `subscription Stream($text: String!) {
  completionStream(input: { model: "echo/echo", messages: [{ role: USER, content: $text }] }) { delta }
}`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const apollo = (document: string) => ({
  persistedQuery: { version: 1, sha256Hash: sha256(document) },
});

describe('trusted documents', () => {
  let gw: TestConduit;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conduit-persisted-'));
    const manifest = join(dir, 'persisted-documents.json');
    writeFileSync(manifest, JSON.stringify({ [sha256(VIEWER)]: VIEWER, [sha256(STREAM)]: STREAM }));
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [
        { id: 'web', key: WEB_KEY, operations: { mode: 'persisted', manifest } },
        { id: 'backend', key: BACKEND_KEY },
      ],
    });
  });

  const post = async (key: string, body: Record<string, unknown>) => {
    const response = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
      },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('runs a manifest document by hash, in both forms, over POST and GET', async () => {
    const byApollo = await post(WEB_KEY, { extensions: apollo(VIEWER) });
    expect(byApollo).toEqual({ status: 200, body: { data: { viewer: { id: 'web' } } } });
    const byId = await post(WEB_KEY, { documentId: sha256(VIEWER) });
    expect(byId).toEqual({ status: 200, body: { data: { viewer: { id: 'web' } } } });
    const url = `${gw.graphqlUrl}?extensions=${encodeURIComponent(JSON.stringify(apollo(VIEWER)))}`;
    const byGet = await fetch(url, {
      headers: { authorization: `Bearer ${WEB_KEY}`, accept: 'application/json' },
    });
    expect([byGet.status, await byGet.json()]).toEqual([200, { data: { viewer: { id: 'web' } } }]);
  });

  it('refuses an ad-hoc document before parsing it, and an unknown hash', async () => {
    for (const query of ['{ viewer { id } }', VIEWER, '{{{ not graphql']) {
      const { status, body } = await post(WEB_KEY, { query });
      expect([query, status, body.errors?.[0].extensions.code]).toEqual([
        query,
        400,
        'PERSISTED_QUERY_ONLY',
      ]);
      expect(body.errors[0].message).toMatch(/may run only its persisted documents/);
    }
    const unknown = await post(WEB_KEY, { documentId: sha256('{ providers { name } }') });
    expect([unknown.status, unknown.body.errors?.[0].extensions.code]).toEqual([
      400,
      'PERSISTED_QUERY_NOT_FOUND',
    ]);
  });

  it('leaves other clients free to send any document', async () => {
    const { status, body } = await post(BACKEND_KEY, { query: '{ viewer { id } }' });
    expect([status, body]).toEqual([200, { data: { viewer: { id: 'backend' } } }]);
  });

  it('runs a subscription by hash over SSE and WebSocket, and refuses an ad-hoc one', async () => {
    const sse = createSseClient({
      url: gw.graphqlUrl,
      headers: { authorization: `Bearer ${WEB_KEY}` },
      retryAttempts: 0,
    });
    onDispose(() => sse.dispose());
    const ws = wsClient(gw.wsUrl, `Bearer ${WEB_KEY}`);
    for (const [name, client] of [
      ['sse', sse],
      ['ws', ws],
    ] as const) {
      const results = await collect(
        client.iterate({ query: '', variables: { text: 'by hash' }, extensions: apollo(STREAM) }),
      );
      const text = results.map((r) => (r.data as any)?.completionStream.delta ?? '').join('');
      expect([name, text]).toEqual([name, 'by hash']);
    }
    // Over WebSocket, the operation's error; over SSE, the request's 400 (graphql-sse's client
    // reports it as a NetworkError, so it is read here as sent).
    const refused = await collect(
      ws.iterate({ query: STREAM, variables: { text: 'ad hoc' } }),
    ).then(
      () => undefined,
      (errors: unknown) => errors,
    );
    expect(refused).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('may run only its persisted documents'),
        extensions: { code: 'PERSISTED_QUERY_ONLY' },
      }),
    ]);
    const sent = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${WEB_KEY}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body: JSON.stringify({ query: STREAM, variables: { text: 'ad hoc' } }),
    });
    const text = await sent.text();
    expect(sent.status).toBe(400);
    expect(text).toContain('PERSISTED_QUERY_ONLY');
    // The plain documentId form over WebSocket.
    const byId = await ws
      .iterate({ query: '', documentId: sha256(VIEWER) } as { query: string })
      .next();
    expect(byId.value).toEqual({ data: { viewer: { id: 'web' } } });
  });
});
