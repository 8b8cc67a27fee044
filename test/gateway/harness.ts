/**
 * The gateway as a running Conduit has it: built by services.ts (createInfrastructure, then
 * createServices, as server.ts does) from an inline config, over in-memory state (a SQLite
 * `:memory:` database, no Redis), so tests exercise production's wiring rather than a copy of it.
 * Providers are the real adapters (echo, or a fake upstream speaking a provider's wire). Each
 * request's record is collected from the live events every finished request is published to.
 */
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { RequestEvent } from '../../src/events/request-events.js';
import type { Caller } from '../../src/gateway/types.js';
import { createMetrics } from '../../src/metrics.js';
import { createInfrastructure, createServices } from '../../src/services.js';
import { onDispose } from '../helpers/dispose.js';
export { anonymous } from '../../src/auth.js';

export async function startGateway(raw: Record<string, unknown>) {
  const config = parseConfig({ database: { url: 'sqlite::memory:' }, ...raw }, {});
  const infra = await createInfrastructure(config, pino({ level: 'silent' }), createMetrics());
  const services = await createServices(config, infra);
  // Subscribed before any request, so every one is seen, in the order recorded. An event reaches
  // `records` a few microtasks after its record is made: read them after a macrotask.
  const records: RequestEvent[] = [];
  const subscription = infra.events.subscribe({});
  void (async () => {
    for await (const event of subscription) records.push(event);
  })();
  onDispose(async () => {
    await subscription.return?.();
    // As a Conduit stops: key probes first, then the stores once every request has recorded.
    services.keys.close();
    await infra.close();
  });
  const { gateway, router, admitter, usage, auth } = services;
  const { breakers, latency, owed } = infra;
  /** The caller a client's key authenticates as. */
  const callerOf = (key: string): Caller => auth.authenticate(key);
  return { config, gateway, router, breakers, latency, admitter, usage, owed, records, callerOf };
}
