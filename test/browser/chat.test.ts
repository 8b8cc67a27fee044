/**
 * The example chat app (examples/chat) in a real Chromium against a real Conduit: the page gets a
 * session token from its own backend (which holds the app's key and mints it), picks a model from the `models` query, streams an answer token by
 * token over graphql-ws (several renders before the last token), shows its tokens and cost, and
 * Stop ends the stream and Conduit's upstream call with it.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startChatBackend, type ChatBackend } from '../../examples/chat/server.js';
import { describeBrowser, screenshotDir } from '../helpers/browser.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const exampleDir = join(process.cwd(), 'examples', 'chat');
const appKey = 'chat-app-key-for-the-test-0123456789';
const sessionSecret = 'a-session-secret-of-32-bytes-or-more-0123456789';
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

/** Where the page sent the app's key (it must never). */
const leaks: string[] = [];
let gw: TestConduit;
let chat: ChatBackend;
beforeAll(async () => {
  await build({ configFile: join(exampleDir, 'vite.config.ts'), logLevel: 'warn' });
  gw = await startConduit(
    {
      providers: { echo: { type: 'echo', delayMs: 40 } },
      models: { chat: { targets: [{ provider: 'echo', model: 'echo-chat' }] } },
      auth: { sessionTokens: { secret: '${SESSION_SECRET}' } },
      clients: [{ id: 'chat-app', key: '${APP_KEY}' }],
    },
    { SESSION_SECRET: sessionSecret, APP_KEY: appKey },
  );
  chat = await startChatBackend({
    conduitUrl: gw.url,
    clientKey: appKey,
    distDir: join(exampleDir, 'dist'),
  });
}, 120_000);
afterAll(async () => {
  await chat?.close();
  await gw?.stop();
});

/** Records the last answer's text at every change the page makes to it. */
async function recordRenders(page: Page) {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { renders: string[] }).renders = seen;
    new MutationObserver(() => {
      const text = document.querySelector('.turn.assistant:last-child p')?.textContent ?? '';
      if (seen.at(-1) !== text) seen.push(text);
    }).observe(document.querySelector('.turns')!, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
}

async function openChat(page: Page) {
  // The page never sees the app's key: only a session token, from its backend.
  page.on('request', (request) => {
    const sent = `${request.url()} ${JSON.stringify(request.headers())} ${request.postData() ?? ''}`;
    if (sent.includes(appKey)) leaks.push(request.url());
  });
  page.on('websocket', (socket) =>
    socket.on('framesent', ({ payload }) => {
      if (String(payload).includes(appKey)) leaks.push(socket.url());
    }),
  );
  await page.goto(chat.url);
  await expect.poll(() => page.locator('select option').allInnerTexts()).toContain('chat');
  await recordRenders(page);
}

describeBrowser('the example chat app', (browser) => {
  it('streams an answer token by token and shows what it cost', async () => {
    const page = await browser().newPage({ viewport: { width: 900, height: 700 } });
    await openChat(page);
    const prompt = 'Conduit streams each answer to the page token by token, over one WebSocket.';
    await page.getByLabel('Message').fill(prompt);
    await page.getByRole('button', { name: 'Send' }).click();

    const answer = page.locator('.turn.assistant').last();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 10_000 }).toBe('done');
    expect((await answer.locator('p').innerText()).trim()).toBe(prompt);
    expect(await answer.locator('.detail').innerText()).toMatch(
      /echo\/echo-chat · \d+ in, \d+ out tokens · \$\d+\.\d{6}/,
    );
    const renders = await page.evaluate(() => (window as unknown as { renders: string[] }).renders);
    const partial = renders.filter((text) => text.length > 1 && text.trim() !== prompt);
    expect(partial.length).toBeGreaterThanOrEqual(2);

    // It ran as the app's client, for the signed-in user, with a token and never the key.
    const line = gw.logs.find((l) => l.includes('"alias":"chat"') && l.includes('"status":"ok"'));
    expect(line).toMatch(/"clientId":"chat-app".*"user":"demo-user"/);
    expect(leaks).toEqual([]);

    await page.screenshot({ path: join(screenshotDir, 'chat.png') });
    mkdirSync(join('docs', 'images'), { recursive: true });
    copyFileSync(join(screenshotDir, 'chat.png'), join('docs', 'images', 'chat.png'));
  });

  it('Stop ends the stream and aborts the upstream call', async () => {
    const page = await browser().newPage({ viewport: { width: 390, height: 760 } });
    await openChat(page);
    await page.getByLabel('Message').fill(words(200));
    await page.getByRole('button', { name: 'Send' }).click();

    const answer = page.locator('.turn.assistant').last();
    await expect.poll(() => answer.locator('p').innerText()).toMatch(/word3/);
    await page.getByRole('button', { name: 'Stop' }).click();
    expect(await answer.getAttribute('data-status')).toBe('stopped');
    const shown = await answer.locator('p').innerText();
    expect(shown).not.toMatch(/word199/);

    // Conduit saw the client leave: the request is recorded as cancelled, with what it streamed.
    const cancelled = () => gw.logs.find((line) => line.includes('"errorCode":"CANCELLED"'));
    await expect.poll(cancelled, { timeout: 5_000 }).toBeDefined();
    const { completionTokens } = JSON.parse(cancelled()!) as { completionTokens: number };
    expect(completionTokens).toBeLessThan(200);
    expect(await page.getByRole('button', { name: 'Send' }).isVisible()).toBe(true);
    await page.screenshot({ path: join(screenshotDir, 'chat-stopped-phone.png') });
  });
});
