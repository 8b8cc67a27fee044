/** The per-request GraphQL context: who calls, the gateway, and DataLoaders (new per request). */
import DataLoader from 'dataloader';
import type { ClientInfo } from '../auth.js';
import type { Cancel } from '../gateway/cancel.js';
import type { Caller } from '../gateway/types.js';
import type { Services } from '../services.js';

export interface Context {
  caller: Caller;
  services: Services;
  /**
   * The operation's Cancel, aborted when the client goes away; the gateway takes it as the
   * request's own (and may abort it itself at the deadline).
   */
  signal: Cancel;
  loaders: { client: DataLoader<string, ClientInfo | null> };
}

export function createContext(caller: Caller, services: Services, signal: Cancel): Context {
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
