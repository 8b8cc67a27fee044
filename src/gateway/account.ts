/**
 * Step 6: usage and cost of every request, finished or failed → the usage store (queued, never
 * awaited here). Logs and metrics hang off the same record.
 */
import type { Pricing } from '../usage/prices.js';
import type { UsageRecord, UsageStore } from '../usage/store.js';
import { GatewayError } from './errors.js';
import type { Attempt, Caller, ChatRequest, Usage } from './types.js';

export interface Outcome {
  requestId: string;
  caller: Caller;
  /** The model as called. */
  alias: string;
  request: ChatRequest | undefined;
  stream: boolean;
  provider: string | null;
  model: string | null;
  usage: Usage | null;
  costUsd: number;
  priced: boolean;
  savedUsd: number;
  cacheHit: boolean;
  content: string | null;
  error: unknown;
  latencyMs: number;
  ttftMs: number | null;
  attempts: readonly Attempt[];
}

export interface Accountant {
  cost(
    usage: Usage,
    provider: string,
    model: string,
    upstreamModel: string,
  ): { costUsd: number; priced: boolean };
  record(outcome: Outcome): void;
}

export type RecordListener = (record: UsageRecord, outcome: Outcome) => void;

export function createAccountant(options: {
  pricing: Pricing;
  store: Pick<UsageStore, 'record'>;
  logBodies: boolean;
  listeners?: readonly RecordListener[];
}): Accountant {
  const { pricing, store, logBodies, listeners = [] } = options;
  return {
    cost: (usage, provider, model, upstreamModel) =>
      pricing.cost(usage, provider, model, upstreamModel),

    record(outcome) {
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
        attempts: outcome.attempts.length,
        stream: outcome.stream,
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
