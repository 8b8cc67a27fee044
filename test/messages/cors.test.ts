/**
 * `/v1/messages` from a page, in a real browser: the Anthropic SDK's headers in the browser
 * (`x-api-key`, `anthropic-version`, `anthropic-beta`,
 * `anthropic-dangerous-direct-browser-access`) pass the preflight of an allowed origin, and the
 * page may read the answer's `request-id`; a page of any other origin gets nothing.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser } from '../helpers/browser.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const KEY = 'ck-messages-cors-0001';

/** A blank page at its own origin (`http://127.0.0.1:PORT`). */
async function servePage(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>page</title>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describeBrowser('/v1/messages from a browser page', (browser) => {
  let gw: TestConduit;
  let allowed: { origin: string; server: Server };
  let other: { origin: string; server: Server };

  beforeAll(async () => {
    allowed = await servePage();
    other = await servePage();
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app', key: KEY }],
      server: { cors: { origins: [allowed.origin] } },
    });
  });
  afterAll(() => {
    allowed.server.close();
    other.server.close();
  });

  /** What the Anthropic SDK sends from a browser, fetched by a page of `origin`. */
  async function callFrom(origin: string) {
    const page = await browser().newPage();
    try {
      await page.goto(origin);
      return await page.evaluate(
        async ({ url, key }) => {
          try {
            const response = await fetch(`${url}/v1/messages`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'x-api-key': key,
                'anthropic-version': '2023-06-01',
                'anthropic-beta': 'prompt-caching-2024-07-31',
                'anthropic-dangerous-direct-browser-access': 'true',
              },
              body: JSON.stringify({
                model: 'echo/echo',
                max_tokens: 20,
                messages: [{ role: 'user', content: 'from the page' }],
              }),
            });
            const body = (await response.json()) as { content: unknown };
            return {
              status: response.status,
              requestId: response.headers.get('request-id'),
              content: body.content,
            };
          } catch (error) {
            return { failed: String(error) };
          }
        },
        { url: gw.url, key: KEY },
      );
    } finally {
      await page.close();
    }
  }

  it('lets a page of an allowed origin call it with the SDK’s headers', async () => {
    const answer = await callFrom(allowed.origin);
    expect(answer).toEqual({
      status: 200,
      requestId: expect.stringMatching(/\S/),
      content: [{ type: 'text', text: 'from the page' }],
    });
  });

  it('gives a page of any other origin nothing', async () => {
    const answer = await callFrom(other.origin);
    expect(answer).toEqual({ failed: expect.stringContaining('Failed to fetch') });
  });

  it('names the SDK’s headers in every preflight answer', async () => {
    const response = await fetch(`${gw.url}/v1/messages`, {
      method: 'OPTIONS',
      headers: { origin: allowed.origin, 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    const allowedHeaders = response.headers.get('access-control-allow-headers')!.split(', ');
    expect(allowedHeaders).toEqual(
      expect.arrayContaining([
        'x-api-key',
        'anthropic-version',
        'anthropic-beta',
        'anthropic-dangerous-direct-browser-access',
      ]),
    );
  });
});
