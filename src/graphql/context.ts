/** The per-request GraphQL context: who calls, the gateway, and DataLoaders (new per request). */
import DataLoader from 'dataloader';
import type { ClientInfo } from '../auth.js';
import type { ClientSignal } from '../gateway/gateway.js';
import type { Caller } from '../gateway/types.js';
import type { Services } from '../services.js';

export interface Context {
  caller: Caller;
  services: Services;
  /** Aborted when the client goes away (or the request's own Cancel: see ClientSignal). */
  signal: ClientSignal;
  loaders: { client: DataLoader<string, ClientInfo | null> };
}

export function createContext(caller: Caller, services: Services, signal: ClientSignal): Context {
  let client: Context['loaders']['client'] | undefined;
  return {
    caller,
    services,
    signal,
    loaders: {
      // Made on first use: most operations (`complete`) never look a client up.
      get client() {
        return (client ??= new DataLoader(async (ids) => {
          // One line per batch: how many lookups the loader saved is visible at debug level.
          services.infra.log.debug({ clients: ids.length }, 'client lookup batch');
          return services.clientsById(ids);
        }));
      },
    },
  };
}
