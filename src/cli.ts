/**
 * The CLI (started by main.ts): find and load the config, start Conduit, drain on SIGTERM/SIGINT.
 * A config error prints what is wrong and where, never a value, and exits 1.
 */
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './log.js';
import { createConduit } from './server.js';

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`conduit: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, path } = loaded;
  const log = createLogger(config.logging.level);
  for (const warning of loaded.warnings) log.warn(warning);
  const conduit = await createConduit(config, { logger: log });
  const url = await conduit.start();

  log.info(
    { config: path ?? 'embedded default', providers: Object.keys(config.providers) },
    `Conduit serves ${url}/graphql`,
  );
  if (conduit.services.auth.open) {
    log.warn(
      'no clients are configured: every call is let in, as an admin. Add clients to the config to require keys.',
    );
  }

  // Log lines are written in batches: exit once the last ones are out. Should stdout be stuck,
  // exit after a second anyway; the logger writes what it can synchronously on the way out.
  const exit = (code: number) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 1000).unref();
    log.flush(() => process.exit(code));
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining: no new requests, letting in-flight ones finish');
    conduit.stop().then(
      () => {
        log.info('stopped');
        exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'stop failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // SIGHUP: read the config again; a bad one is refused with its error and the old one stays.
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      if (stopping) return;
      try {
        const next = loadConfig();
        for (const warning of next.warnings) log.warn(warning);
        await conduit.reload(next.config);
      } catch (error) {
        const problems = error instanceof ConfigError ? error.problems : [String(error)];
        log.error({ problems }, 'reload refused: the running config stays');
      }
    });
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `conduit: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
