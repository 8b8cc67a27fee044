/**
 * A real browser for tests: Debian's Chromium driven by playwright-core, headless, with the flags
 * that keep it from reaching outside hosts (this machine has no network but the registries; a
 * page that fetched from a CDN would stay blank). Without Chromium, browser tests fail loudly
 * when CI is set (`.ci/run` installs it) and are skipped with the reason elsewhere.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go, to be looked at: `test-results/screenshots/` (git-ignored). */
export const screenshotDir = join(process.cwd(), 'test-results', 'screenshots');

export function describeBrowser(name: string, body: (browser: () => Browser) => void): void {
  const missing = existsSync(chromiumPath) ? undefined : `no Chromium at ${chromiumPath}`;
  if (missing !== undefined) {
    if (process.env.CI) {
      describe(name, () => {
        it('has the browser it needs', () => {
          throw new Error(`${missing}: install Debian's chromium (apt-get install -y chromium)`);
        });
      });
    } else {
      describe.skip(`${name} (skipped: ${missing})`, () => body(() => undefined as never));
    }
    return;
  }
  describe(name, () => {
    let browser: Browser | undefined;
    afterAll(async () => browser?.close());
    body(() => browser!);
    // Playwright starts it with a new empty profile of its own.
    beforeAll(async () => {
      mkdirSync(screenshotDir, { recursive: true });
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    }, 60_000);
  });
}
