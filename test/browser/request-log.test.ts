/**
 * The request log in the dashboard, in a real Chromium: a request made by another client shows
 * in the live feed, and its row opens the logged request (prompt, answer, attempts, redaction
 * applied); a request of a client whose log is off says so in words. Screenshot at 1280 px in
 * test-results/screenshots/request-log-1280.png.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, screenshotDir } from '../helpers/browser.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { ensureDashboardBuilt } from '../helpers/dashboard.js';

const keys = { admin: 'ck-rlog-admin-5b2e', app: 'ck-rlog-app-91fa', quiet: 'ck-rlog-quiet-3c07' };

let gw: TestConduit;
beforeAll(async () => {
  await ensureDashboardBuilt();
  gw = await startConduit({
    providers: { echo: { type: 'echo' } },
    clients: [
      { id: 'ops', key: keys.admin, admin: true },
      { id: 'app', key: keys.app },
      { id: 'quiet', key: keys.quiet, requestLog: { enabled: false } },
    ],
    requestLog: { enabled: true, redact: ['[\\w.+-]+@[\\w-]+\\.[\\w.]+'] },
  });
}, 180_000);
afterAll(async () => gw?.stop());

async function ask(key: string, content: string): Promise<string> {
  const { body } = await gql(
    gw.graphqlUrl,
    'mutation ($content: String!) { complete(input: { model: "echo/echo", messages: [{ role: USER, content: $content }] }) { id } }',
    { content },
    { authorization: `Bearer ${key}` },
  );
  expect(body.errors).toBeUndefined();
  return body.data.complete.id as string;
}

async function signIn(page: Page, key: string) {
  await page.getByLabel('Client key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describeBrowser('the request log in the dashboard', (browser) => {
  it('opens a live feed row as its logged request', async () => {
    const page = await browser().newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${gw.url}/dashboard/`);
    await signIn(page, keys.admin);
    await expect.poll(() => page.locator('.pulse').innerText(), { timeout: 10_000 }).toBe('Live');
    await expect.poll(() => gw.conduit.services.infra.events.subscribers).toBeGreaterThan(0);

    const id = await ask(keys.app, 'Write to bob@example.com about the quarterly llama report');
    const row = page.locator(`[data-request-id="${id}"]`);
    await row.waitFor({ timeout: 5000 });
    await row.click();

    const view = page.getByRole('region', { name: 'Logged request', exact: true });
    await expect.poll(() => view.innerText(), { timeout: 10_000 }).toContain('Prompt');
    const text = await view.innerText();
    expect(text).toContain(id);
    expect(text).toMatch(/Client\s+app/);
    expect(text).toMatch(/Model\s+echo\/echo/);
    expect(text).toContain('quarterly llama report');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain('bob@example.com');
    expect(text).toMatch(/Attempts[\s\S]*echo\/echo[\s\S]*ok/);
    expect(await row.getAttribute('class')).toContain('open');
    await page.screenshot({ path: join(screenshotDir, 'request-log-1280.png'), fullPage: true });

    // A client whose log is off: its row opens to a sentence, not an empty panel.
    const quiet = await ask(keys.quiet, 'not for the log');
    const quietRow = page.locator(`[data-request-id="${quiet}"]`);
    await quietRow.waitFor({ timeout: 5000 });
    await quietRow.click();
    await expect
      .poll(() => view.innerText(), { timeout: 10_000 })
      .toContain('not in the request log');

    await view.getByRole('button', { name: 'Close' }).click();
    expect(await view.count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
