/**
 * The runtime clients a replica knows: loaded from the usage database at start, and again
 * whenever any replica changes one. With Redis, a change is announced on a pub/sub channel
 * (each replica reloads when told) and the change counter is also polled now and then, in case
 * an announcement was missed while Redis was away; without Redis the counter is polled every
 * `runtimeClients.pollIntervalMs`. A replica that makes a change reloads before it answers, so
 * its own next request already sees it.
 *
 * The admin operations live here too: each writes the client's row, the counter and an audit
 * record in one transaction, then announces. Keys are made here and returned once; only their
 * SHA-256 is stored.
 */
import type { Alerts } from '../alerts.js';
import { badInput } from '../gateway/errors.js';
import type { Logger } from '../log.js';
import type { SharedRedis } from '../state/redis.js';
import type { OpenedDatabase } from '../usage/store-db.js';
import { generateKey, keyDigest } from './keys.js';
import {
  applySettings,
  auditView,
  clientId,
  clientSettings,
  type ClientSettings,
  type RuntimeClient,
} from './model.js';
import { createClientStore, type AuditEntry, type AuditQuery, type AuditRecord } from './store.js';

/** The channel changes are announced on; the message is the changed client's id. */
export const CHANGES_CHANNEL = 'conduit:clients:changed';

/** How much less often the counter is polled when Redis announces changes. */
const POLL_SLOWDOWN_WITH_REDIS = 20;

export const AuditActions = {
  CREATE: 'client.create',
  UPDATE: 'client.update',
  ROTATE: 'client.rotate_key',
  REVOKE: 'client.revoke',
  RELOAD: 'config.reload',
} as const;

export interface IssuedKey {
  client: RuntimeClient;
  /** The new key, in clear: shown this once. */
  key: string;
}

export interface ClientRegistry {
  /** Bumped each time the known set changes; the authenticator rebuilds when it moves. */
  readonly version: number;
  list(): readonly RuntimeClient[];
  get(id: string): RuntimeClient | undefined;
  /** Called after each change of the known set; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Reads the clients again from the database. */
  refresh(): Promise<void>;
  /** `reserved`: ids a runtime client may not take (the config's). */
  create(
    actor: string,
    id: string,
    settings: unknown,
    reserved: ReadonlySet<string>,
  ): Promise<IssuedKey>;
  update(actor: string, id: string, settings: unknown): Promise<RuntimeClient>;
  rotate(actor: string, id: string, graceSeconds: number): Promise<IssuedKey>;
  revoke(actor: string, id: string): Promise<RuntimeClient>;
  /** Writes an audit record that changes no client (a config reload). */
  audit(entry: Omit<AuditEntry, 'time'>): Promise<void>;
  auditLog(query: AuditQuery): Promise<AuditRecord[]>;
  lastUsed(ids: readonly string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export interface RegistryOptions {
  database: OpenedDatabase;
  redis: SharedRedis | undefined;
  pollIntervalMs: number;
  log: Logger;
  alerts: Alerts;
}

const MAX_GRACE_SECONDS = 30 * 86_400;

export async function createClientRegistry(options: RegistryOptions): Promise<ClientRegistry> {
  const { log, redis, alerts } = options;
  const store = createClientStore(options.database);
  let clients: RuntimeClient[] = [];
  let byId = new Map<string, RuntimeClient>();
  let version = 0;
  let seen = -1;
  const listeners = new Set<() => void>();
  let closed = false;

  function install(next: RuntimeClient[]): void {
    const before = JSON.stringify(clients);
    if (JSON.stringify(next) === before) return;
    clients = next;
    byId = new Map(next.map((c) => [c.id, c]));
    version++;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        log.error({ err: error }, 'a runtime clients listener failed');
      }
    }
  }

  // One load at a time; a request for another while one runs makes one more after it.
  let loading: Promise<void> | null = null;
  let again = false;
  async function load(): Promise<void> {
    do {
      again = false;
      const counter = await store.version();
      const all = await store.all();
      seen = counter;
      install(all);
    } while (again);
  }
  function refresh(): Promise<void> {
    if (loading) {
      again = true;
      return loading;
    }
    loading = load().finally(() => (loading = null));
    return loading;
  }

  await refresh();

  const poll = async (): Promise<void> => {
    try {
      if ((await store.version()) !== seen) await refresh();
    } catch (error) {
      log.warn({ err: error }, 'runtime clients: reading the change counter failed');
    }
  };
  const pollMs = options.pollIntervalMs * (redis ? POLL_SLOWDOWN_WITH_REDIS : 1);
  let polling: Promise<void> | null = null;
  const timer = setInterval(() => {
    polling ??= poll().finally(() => (polling = null));
  }, pollMs);
  timer.unref();

  // A connection of its own: one that subscribes may do nothing else. Like the shared one, it
  // never blocks the start: it waits for the first attempt only, and keeps trying meanwhile
  // (node-redis subscribes again by itself after a reconnect; a reconnect also reloads, for
  // what was announced while it was away).
  const subscriber = redis?.client.duplicate();
  if (subscriber) {
    let subscribed = false;
    const onAnnounce = (): void => {
      refresh().catch((error: unknown) =>
        log.warn({ err: error }, 'runtime clients: reload after an announcement failed'),
      );
    };
    const firstAttempt = new Promise<void>((resolve) => {
      subscriber.on('error', () => resolve()); // the shared client logs outages
      subscriber.on('ready', () => {
        if (subscribed) return onAnnounce();
        subscribed = true;
        subscriber
          .subscribe(CHANGES_CHANNEL, onAnnounce)
          .catch((error: unknown) => {
            subscribed = false;
            log.warn({ err: error }, 'runtime clients: no Redis subscription; polling only');
          })
          .finally(resolve);
      });
    });
    subscriber.connect().catch(() => {});
    await firstAttempt;
  }

  async function announce(id: string): Promise<void> {
    await refresh();
    if (redis?.ready) {
      await redis.client.publish(CHANGES_CHANNEL, id).catch((error: unknown) => {
        log.warn({ err: error }, 'runtime clients: announcing a change failed; replicas poll');
      });
    }
  }

  function parseSettings(raw: unknown): ClientSettings {
    const parsed = clientSettings.safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    const field = ['input', ...issue.path.map(String)].join('.');
    throw badInput(field, `${field}: ${issue.message}`);
  }

  /** A client limited to trusted documents needs some: given now, or kept from before. */
  function withDocuments(client: RuntimeClient): RuntimeClient {
    if (client.operations === 'persisted' && !client.manifest)
      throw badInput(
        'input.manifest',
        'operations PERSISTED needs a manifest: input.manifest, the JSON of hash → document that GraphQL Codegen writes for persisted documents',
      );
    return client;
  }

  async function existing(id: string): Promise<RuntimeClient> {
    const client = await store.one(id);
    if (!client)
      throw badInput('id', `no runtime client "${id}" (config clients change in the config file)`);
    return client;
  }

  const live = (client: RuntimeClient): RuntimeClient => {
    if (client.revokedAt !== null)
      throw badInput('id', `client "${client.id}" is revoked; create a new client instead`);
    return client;
  };

  const entry = (
    actor: string,
    action: string,
    target: string,
    before: RuntimeClient | null,
    after: RuntimeClient,
  ): AuditEntry => ({
    time: Date.now(),
    actor,
    action,
    target,
    before: before && auditView(before),
    after: auditView(after),
  });

  return {
    get version() {
      return version;
    },
    list: () => clients,
    get: (id) => byId.get(id),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    refresh,

    async create(actor, id, raw, reserved) {
      const checkedId = clientId.safeParse(id);
      if (!checkedId.success)
        throw badInput('input.id', `input.id: ${checkedId.error.issues[0]!.message}`);
      if (reserved.has(id))
        throw badInput('input.id', `"${id}" is the id of a client in the config file`);
      if (id === 'anonymous' || id === 'config')
        throw badInput('input.id', `"${id}" is a name Conduit uses itself`);
      const settings = parseSettings(raw);
      if (await store.one(id))
        throw badInput('input.id', `a runtime client "${id}" already exists (revoked ones too)`);
      const key = generateKey();
      const now = Date.now();
      const client = withDocuments(
        applySettings(
          {
            id,
            admin: false,
            models: undefined,
            rateLimits: [],
            budget: undefined,
            origins: [],
            operations: 'any',
            manifest: null,
            expiresAt: null,
            createdAt: now,
            updatedAt: now,
            revokedAt: null,
            createdBy: actor,
            keySha256: keyDigest(key),
            previousKeySha256: null,
            previousKeyUntil: null,
          },
          settings,
          now,
        ),
      );
      try {
        await store.save(client, entry(actor, AuditActions.CREATE, id, null, client), true);
      } catch (error) {
        // Two admins racing for one id: the second insert meets the primary key.
        if (await store.one(id).catch(() => undefined))
          throw badInput('input.id', `a runtime client "${id}" already exists`);
        throw error;
      }
      await announce(id);
      return { client, key };
    },

    async update(actor, id, raw) {
      const settings = parseSettings(raw);
      const before = live(await existing(id));
      const after = withDocuments(applySettings(before, settings, Date.now()));
      await store.save(after, entry(actor, AuditActions.UPDATE, id, before, after), false);
      await announce(id);
      return after;
    },

    async rotate(actor, id, graceSeconds) {
      if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS)
        throw badInput(
          'graceSeconds',
          `graceSeconds must be a whole number from 0 to ${MAX_GRACE_SECONDS} (30 days)`,
        );
      const before = live(await existing(id));
      const key = generateKey();
      const now = Date.now();
      const after: RuntimeClient = {
        ...before,
        keySha256: keyDigest(key),
        previousKeySha256: graceSeconds > 0 ? before.keySha256 : null,
        previousKeyUntil: graceSeconds > 0 ? now + graceSeconds * 1000 : null,
        updatedAt: now,
      };
      await store.save(after, entry(actor, AuditActions.ROTATE, id, before, after), false);
      await announce(id);
      return { client: after, key };
    },

    async revoke(actor, id) {
      const before = live(await existing(id));
      const now = Date.now();
      const after: RuntimeClient = {
        ...before,
        revokedAt: now,
        previousKeySha256: null,
        previousKeyUntil: null,
        updatedAt: now,
      };
      await store.save(after, entry(actor, AuditActions.REVOKE, id, before, after), false);
      await announce(id);
      alerts.send({ type: 'client_revoked', clientId: id, actor });
      return after;
    },

    audit: (e) => store.audit({ ...e, time: Date.now() }),
    auditLog: (query) => store.auditLog(query),
    lastUsed: (ids) => store.lastUsed(ids),

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await polling;
      await loading?.catch(() => {});
      if (subscriber?.isReady) {
        await subscriber.close().catch(() => subscriber.destroy());
      } else if (subscriber?.isOpen) {
        subscriber.destroy();
      }
    },
  };
}
