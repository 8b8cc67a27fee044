/**
 * Step 6: usage and cost of every request, finished or failed → the usage store (queued, never
 * awaited here). Logs and metrics hang off the same record. Every request owes its record from
 * its start (`owe`) until `record`: shutdown waits for what is owed before it closes the store.
 */
import type { Pricing } from '../usage/prices.js';
import type { UsageRecord, UsageStore } from '../usage/store.js';
import { GatewayError } from './errors.js';
import type { Outcome, Usage } from './types.js';

export type { Outcome };

export interface Accountant {
  /** The request of this id has begun: it owes one record, until `record` is called for it. */
  owe(requestId: string): void;
  cost(
    usage: Usage,
    provider: string,
    model: string,
    upstreamModel: string,
  ): { costUsd: number; priced: boolean };
  record(outcome: Outcome): void;
}

export type RecordListener = (record: UsageRecord, outcome: Outcome) => void;

/**
 * The requests, of every gateway a process has had (reloads make new ones), that have begun and
 * not yet recorded. Lives as long as the usage store.
 */
export interface OwedRecords {
  open(requestId: string): void;
  settle(requestId: string): void;
  readonly count: number;
  /** Resolves true once nothing is owed, or false after `timeoutMs` with records still owed. */
  settled(timeoutMs: number): Promise<boolean>;
}

export function createOwedRecords(): OwedRecords {
  // Ids, not a count: a record never owed (or recorded twice) cannot hide one still owed.
  const owed = new Set<string>();
  let waiters: (() => void)[] = [];
  return {
    open: (requestId) => void owed.add(requestId),
    settle(requestId) {
      if (!owed.delete(requestId) || owed.size > 0 || waiters.length === 0) return;
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    },
    get count() {
      return owed.size;
    },
    settled(timeoutMs) {
      if (owed.size === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== wake);
          resolve(false);
        }, timeoutMs);
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        waiters.push(wake);
      });
    },
  };
}

export function createAccountant(options: {
  pricing: Pricing;
  store: Pick<UsageStore, 'record'>;
  logBodies: boolean;
  listeners?: readonly RecordListener[];
  /** Shared with shutdown; a private ledger when not given. */
  owed?: OwedRecords;
}): Accountant {
  const { pricing, store, logBodies, listeners = [], owed = createOwedRecords() } = options;
  return {
    owe: (requestId) => owed.open(requestId),

    cost: (usage, provider, model, upstreamModel) =>
      pricing.cost(usage, provider, model, upstreamModel),

    record(outcome) {
      // First, so that nothing below can leave it owed: whoever waits wakes in a later microtask,
      // once this call has queued the row.
      owed.settle(outcome.requestId);
      const usage = outcome.usage;
      // A request that failed upstream is charged to the target that failed last.
      const last = outcome.provider === null ? outcome.attempts.at(-1) : undefined;
      const record: UsageRecord = {
        time: new Date(),
        requestId: outcome.requestId,
        clientId: outcome.caller.clientId,
        user: outcome.caller.user ?? outcome.request?.user ?? null,
        alias: outcome.alias,
        provider: outcome.provider ?? last?.provider ?? null,
        model: outcome.model ?? last?.model ?? null,
        status: outcome.error ? 'error' : 'ok',
        errorCode: outcome.error ? errorCodeOf(outcome.error) : null,
        promptTokens: usage?.promptTokens ?? 0,
        completionTokens: usage?.completionTokens ?? 0,
        cachedTokens: usage?.cachedPromptTokens ?? 0,
        estimated: usage?.estimated ?? false,
        costUsd: outcome.costUsd,
        savedUsd: outcome.savedUsd,
        priced: outcome.priced,
        latencyMs: outcome.latencyMs,
        ttftMs: outcome.ttftMs,
        cacheHit: outcome.cacheHit,
        cacheKind: outcome.cacheKind,
        similarity: outcome.similarity,
        attempts: outcome.attempts.length,
        stream: outcome.stream,
        route: outcome.route,
        prompt: logBodies && outcome.request ? JSON.stringify(outcome.request.messages) : null,
        response: logBodies ? outcome.content : null,
      };
      store.record(record);
      for (const listener of listeners) listener(record, outcome);
    },
  };
}

function errorCodeOf(error: unknown): string {
  if (GatewayError.isInstance(error)) return error.code;
  if (error instanceof Error && error.name === 'AbortError') return 'CANCELLED';
  return 'INTERNAL';
}
