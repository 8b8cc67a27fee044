/**
 * The dashboard as `npm run build` makes it, for browser tests: built with Vite's own build API
 * into dist/web when missing or older than its sources (a fresh clone has no dist/).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardDir } from '../../src/http/dashboard.js';

const webDir = join(process.cwd(), 'web');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export async function ensureDashboardBuilt(): Promise<void> {
  const index = join(dashboardDir, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestSource(webDir)) return;
  const { build } = await import('vite');
  await build({ configFile: join(webDir, 'vite.config.ts'), logLevel: 'warn' });
}
