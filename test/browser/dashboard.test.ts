/**
 * The dashboard as a person meets it, in a real Chromium that can reach nothing but Conduit:
 * sign-in with a client key, exchanged at once for a session token (the key is sent once, never
 * kept in sessionStorage nor sent again, over HTTP or the WebSocket; a session that ends asks
 * to sign in again, saying so; a server without session tokens keeps the key in memory only),
 * figures, charts and tables drawn from the usage rows of a seeded
 * database (written through the store's own writer), a request made by another client showing
 * in the live feed within 2 s, a non-admin seeing only its own rows, and a refused key said in
 * words. Screenshots at 1280 and 390 px go to test-results/screenshots/.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUsageStore } from '../../src/usage/store.js';
import { describeBrowser, screenshotDir } from '../helpers/browser.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { ensureDashboardBuilt } from '../helpers/dashboard.js';
import { createSqliteDatabase, usageRecord } from '../helpers/databases.js';

const keys = { admin: 'ck-dash-admin-4e1a', a: 'ck-dash-app-a-93bd', b: 'ck-dash-app-b-07c2' };
const sessionTokens = { secret: 'dashboard-session-secret-0123456789abcdef' };
const HOUR = 3_600_000;

/** Rows over the last day: app-a on model-a, app-b on model-b, some cached, some failed. */
function seedRows() {
  const now = Date.now();
  const rows = [];
  for (let i = 0; i < 18; i++) {
    const a = i % 3 !== 2;
    rows.push(
      usageRecord({
        time: new Date(now - (i + 0.5) * HOUR),
        clientId: a ? 'app-a' : 'app-b',
        user: a ? `user-${i % 2}` : null,
        alias: a ? 'openai/model-a' : 'anthropic/model-b',
        provider: a ? 'openai' : 'anthropic',
        model: a ? 'model-a' : 'model-b',
        status: i === 4 ? 'error' : 'ok',
        errorCode: i === 4 ? 'UPSTREAM_ERROR' : null,
        promptTokens: 1000 + i * 10,
        completionTokens: 200 + i,
        costUsd: a ? 0.05 : 0.25,
        cacheHit: i === 6,
        savedUsd: i === 6 ? 0.05 : 0,
        latencyMs: 300 + i * 40,
      }),
    );
  }
  return rows;
}
const seeded = seedRows();
const total = (client?: string) => seeded.filter((r) => !client || r.clientId === client);

let gw: TestConduit;
beforeAll(async () => {
  const database = createSqliteDatabase();
  const store = await createUsageStore({ url: database.url });
  for (const row of seeded) store.record(row);
  await store.close();
  await ensureDashboardBuilt();
  gw = await startConduit({
    database: { url: database.url },
    providers: { echo: { type: 'echo' } },
    clients: [
      { id: 'ops', key: keys.admin, admin: true },
      { id: 'app-a', key: keys.a, budget: { usd: 5, period: 'month' } },
      { id: 'app-b', key: keys.b },
    ],
    auth: { sessionTokens },
  });
}, 180_000);
afterAll(async () => gw?.stop());

async function openDashboard(width: number, height: number) {
  const page = await browserRef().newPage({ viewport: { width, height } });
  const outside: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (
      !url.startsWith(gw.url) &&
      !url.startsWith(gw.wsUrl.replace('/graphql', '')) &&
      !/^(data|blob):/.test(url)
    )
      outside.push(url);
  });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  const sent = watchCredentials(page);
  await page.goto(`${gw.url}/dashboard/`);
  return { page, outside, problems, sent };
}

/** What the page sends: each request's Authorization and body, and each WebSocket frame. */
function watchCredentials(page: Page) {
  const sent = {
    requests: [] as { authorization: string; body: string }[],
    frames: [] as string[],
  };
  page.on('request', (request) => {
    const authorization = request.headers().authorization;
    if (authorization) sent.requests.push({ authorization, body: request.postData() ?? '' });
  });
  page.on('websocket', (socket) =>
    socket.on('framesent', (frame) => sent.frames.push(String(frame.payload))),
  );
  return sent;
}

/**
 * The key went once, to mint the session token; every request and frame after it carries the
 * token only, and the tab keeps the token, never the key.
 */
async function expectKeyUsedOnce(
  page: Page,
  sent: ReturnType<typeof watchCredentials>,
  key: string,
) {
  const withKey = sent.requests.filter((r) => r.authorization.includes(key));
  expect(withKey).toHaveLength(1);
  expect(withKey[0]!.body).toContain('createSessionToken');
  const after = sent.requests.slice(sent.requests.indexOf(withKey[0]!) + 1);
  expect(after.length).toBeGreaterThan(0);
  for (const request of after)
    expect(request.authorization).toMatch(/^Bearer eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  expect(sent.frames.length).toBeGreaterThan(0);
  for (const frame of sent.frames) expect(frame).not.toContain(key);
  expect(sent.frames[0]).toMatch(/"authorization":"Bearer eyJ/);
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }));
  expect(stored).not.toContain(key);
  expect(stored).toMatch(/Bearer eyJ/);
  expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).toBe('{}');
  expect(await page.context().cookies()).toEqual([]);
}

async function signIn(page: Page, key: string) {
  await page.getByLabel('Client key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const subscribers = () => gw.conduit.services.infra.events.subscribers;
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(screenshotDir, name), fullPage: true });

/** The suite's browser, once describeBrowser has launched it. */
let browserRef: () => Browser;

describeBrowser('the dashboard', (browser) => {
  browserRef = browser;

  it('signs an admin in, draws the seeded usage and shows another client’s request live', async () => {
    const { page, outside, problems, sent } = await openDashboard(1280, 900);
    expect(await page.title()).toBe('Conduit dashboard');
    await signIn(page, keys.admin);

    // Figures and tables from the seeded rows (every client's: an admin's scope).
    const figures = page.locator('.figures');
    await expect.poll(() => figures.innerText(), { timeout: 10_000 }).toMatch(/requests/i);
    const spent = total().reduce((sum, r) => sum + r.costUsd, 0);
    expect(await figures.innerText()).toContain(`$${spent.toFixed(2)}`);
    expect(await figures.innerText()).toContain(String(seeded.length));
    const tables = page.locator('.tables');
    expect(await tables.innerText()).toMatch(
      /By client[\s\S]*app-a[\s\S]*app-b|By client[\s\S]*app-b[\s\S]*app-a/,
    );
    expect(await tables.innerText()).toContain('model-a');
    expect(await tables.innerText()).toContain('model-b');
    // Four charts, each drawn by uPlot on a canvas with its series in the legend.
    await expect.poll(() => page.locator('.chart canvas').count()).toBe(4);
    expect(await page.locator('.chart .u-legend').allInnerTexts()).toEqual([
      expect.stringContaining('Spend'),
      expect.stringMatching(/Requests[\s\S]*Errors/),
      expect.stringMatching(/Prompt[\s\S]*Completion/),
      expect.stringMatching(/p50[\s\S]*p95/),
    ]);
    expect(await page.locator('.providers').innerText()).toContain('echo');
    await expect.poll(() => page.locator('.pulse').innerText()).toBe('Live');
    await expect.poll(subscribers).toBeGreaterThan(0);

    // Another client's request, a moment ago: in the feed within 2 s.
    const { body } = await gql(
      gw.graphqlUrl,
      'mutation { complete(input: { model: "echo/echo", messages: [{ role: USER, content: "hello dashboard" }] }) { id } }',
      undefined,
      { authorization: `Bearer ${keys.b}` },
    );
    const row = page.locator(`[data-request-id="${body.data.complete.id}"]`);
    await row.waitFor({ timeout: 2000 });
    expect(await row.innerText()).toMatch(/app-b[\s\S]*echo\/echo[\s\S]*ok/);

    await shot(page, 'dashboard-admin-1280.png');
    // UPDATE_DOCS_SCREENSHOT=1 refreshes the README's picture from this run.
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      mkdirSync(join(process.cwd(), 'docs', 'images'), { recursive: true });
      copyFileSync(
        join(screenshotDir, 'dashboard-admin-1280.png'),
        join(process.cwd(), 'docs', 'images', 'dashboard.png'),
      );
    }
    // Narrowed to one client: its rows only.
    await page.getByLabel('Client').selectOption('app-a');
    await expect.poll(() => tables.innerText(), { timeout: 10_000 }).not.toContain('model-b');
    expect(await tables.innerText()).toContain('model-a');

    await expectKeyUsedOnce(page, sent, keys.admin);
    expect(problems).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows a client only its own rows and requests, at a phone’s width', async () => {
    const { page, problems, sent } = await openDashboard(390, 844);
    await signIn(page, keys.a);
    const tables = page.locator('.tables');
    await expect.poll(() => tables.innerText(), { timeout: 10_000 }).toContain('model-a');
    expect(await tables.innerText()).not.toContain('model-b');
    expect(await tables.innerText()).not.toContain('By client');
    const mine = total('app-a');
    expect(await page.locator('.figures').innerText()).toContain(
      `$${mine.reduce((sum, r) => sum + r.costUsd, 0).toFixed(2)}`,
    );
    // Its budget, and what is left of it.
    await expect.poll(() => page.locator('.budget').innerText()).toMatch(/left of \$5\.00/);

    await expect.poll(subscribers).toBeGreaterThan(0);
    const ask = (key: string, content: string) =>
      gql(
        gw.graphqlUrl,
        'mutation ($c: String!) { complete(input: { model: "echo/echo", messages: [{ role: USER, content: $c }] }) { id } }',
        { c: content },
        { authorization: `Bearer ${key}` },
      ).then((r) => r.body.data.complete.id as string);
    const theirs = await ask(keys.b, 'not yours');
    const own = await ask(keys.a, 'yours');
    await page.locator(`[data-request-id="${own}"]`).waitFor({ timeout: 2000 });
    // app-b's request ended first: had it been sent here, it would be in the feed by now.
    expect(await page.locator(`[data-request-id="${theirs}"]`).count()).toBe(0);

    // Nothing wider than the phone.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow).toBeLessThanOrEqual(390);
    await shot(page, 'dashboard-client-390.png');
    await expectKeyUsedOnce(page, sent, keys.a);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('asks to sign in again, in words, when the session ends', async () => {
    // Tokens of at most 2 s: the session ends while the page is open.
    const own = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app-a', key: keys.a }],
      auth: { sessionTokens: { ...sessionTokens, maxTtlSeconds: 2 } },
    });
    const page = await browserRef().newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${own.url}/dashboard/`);
    await signIn(page, keys.a);
    await expect.poll(() => page.locator('.pulse').innerText(), { timeout: 10_000 }).toBe('Live');
    const alert = page.getByRole('alert').first();
    await alert.waitFor({ timeout: 10_000 });
    expect(await alert.innerText()).toMatch(/session ended\. Sign in again/);
    expect(await page.getByLabel('Client key').isVisible()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await shot(page, 'dashboard-session-ended-1280.png');
    await page.close();
  }, 30_000);

  it('says in words that the server has gone', async () => {
    const own = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'app-a', key: keys.a }],
    });
    const page = await browserRef().newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${own.url}/dashboard/`);
    await signIn(page, keys.a);
    await expect.poll(() => page.locator('.pulse').innerText(), { timeout: 10_000 }).toBe('Live');
    // Session tokens off here: the key is held in the page's memory only, never stored.
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await own.stop();
    const alert = page.getByRole('alert').first();
    await alert.waitFor({ timeout: 10_000 });
    expect(await alert.innerText()).toMatch(/connection to Conduit was lost/);
    await page.close();
  }, 30_000);

  it('is served with a strict content security policy, and its assets for good', async () => {
    const moved = await fetch(`${gw.url}/dashboard`, { redirect: 'manual' });
    expect(moved.status).toBe(308);
    expect(moved.headers.get('location')).toBe('/dashboard/');
    const page = await fetch(`${gw.url}/dashboard/`);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const html = await page.text();
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${gw.url}${script}`);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(`${gw.url}/dashboard/assets/missing.js`)).status).toBe(404);
  });

  it('says in words that a key was refused', async () => {
    const { page } = await openDashboard(390, 700);
    await signIn(page, 'ck-not-a-real-key');
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 5000 });
    expect(await alert.innerText()).toMatch(/key was not accepted/);
    await shot(page, 'dashboard-bad-key-390.png');
    await page.close();
  }, 30_000);
});
