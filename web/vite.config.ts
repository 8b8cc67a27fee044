/**
 * The dashboard's build: `npm run build` writes it to dist/web, which Conduit serves at
 * /dashboard (src/http/dashboard.ts). Everything it needs is bundled: nothing comes from a CDN.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/dashboard/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
});
