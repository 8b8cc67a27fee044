/**
 * `npm run example:chat`: Conduit on the embedded default (echo, paced so the stream is visible)
 * with one client for this app, and the example beside it. The app's key and the session-token
 * secret are made fresh at each start and live only in this process.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { embeddedDefault, parseConfig } from '../../src/config/load.js';
import { createConduit } from '../../src/server.js';
import { startChatBackend } from './server.js';

const here = fileURLToPath(new URL('.', import.meta.url));
await build({ configFile: `${here}vite.config.ts` });

const env = {
  ...process.env,
  CHAT_APP_KEY: randomBytes(24).toString('base64url'),
  CHAT_SESSION_SECRET: randomBytes(32).toString('base64url'),
};
const conduitPort = Number(process.env.CONDUIT_PORT ?? 4000);
const chatPort = Number(process.env.CHAT_PORT ?? 5173);
const defaults = embeddedDefault(env) as { providers: Record<string, Record<string, unknown>> };

const config = parseConfig(
  {
    ...defaults,
    providers: { ...defaults.providers, echo: { type: 'echo', delayMs: 60 } },
    auth: { sessionTokens: { secret: '${CHAT_SESSION_SECRET}' } },
    clients: [
      {
        id: 'chat-app',
        key: '${CHAT_APP_KEY}',
        origins: [`http://localhost:${chatPort}`, `http://127.0.0.1:${chatPort}`],
      },
    ],
  },
  env,
);
const conduit = await createConduit(config);
const conduitUrl = await conduit.start(conduitPort, '127.0.0.1');
const chat = await startChatBackend(
  { conduitUrl, clientKey: env.CHAT_APP_KEY, distDir: `${here}dist` },
  chatPort,
);
console.log(`Conduit at ${conduitUrl}/graphql; the chat example at ${chat.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await chat.close();
    await conduit.stop();
    process.exit(0);
  });
}
