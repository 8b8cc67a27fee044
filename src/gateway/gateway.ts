/**
 * The pipeline, and nothing else: validate → admit → cache → route → call → account → store.
 * Edges call `complete`, `stream` or `embed`; they never see a provider's wire format.
 */
import type { Config } from '../config/schema.js';
import type { ResponseCache } from '../state/cache.js';
import { estimateUsage } from '../usage/tokens.js';
import type { Accountant, Outcome } from './account.js';
import type { Admission, Admitter } from './admit.js';
import { callTargets, type CallContext, type CallDeps } from './call.js';
import { Cancel } from './cancel.js';
import { newRequestId } from './ids.js';
import { startDeadline, type Deadline } from './deadline.js';
import { badInput } from './errors.js';
import { cacheKeyOf, normalizeRequest } from './normalize.js';
import { leavable, relay, replay } from './relay.js';
import type { Route, Router } from './route.js';
import type {
  Attempt,
  Caller,
  ChatRequest,
  ChatResponse,
  Completion,
  CompletionChunk,
  EmbeddingRequest,
  Embeddings,
  Target,
} from './types.js';

/** What the exact cache keeps of an answer. */
export interface CachedAnswer {
  provider: string;
  response: ChatResponse;
  /** What the answer cost when it was made: a hit saves that much. */
  costUsd: number;
}

export interface GatewayDeps extends CallDeps {
  config: Pick<Config, 'cache' | 'retry'>;
  router: Router;
  admitter: Admitter;
  cache: ResponseCache<CachedAnswer>;
  accountant: Accountant;
  /** Recording a finished request threw (it is not retried). */
  onAfterAnswerError?(error: unknown): void;
}

/**
 * Runs what a finished request still owes nobody waiting on it (its usage record, log line and
 * metrics) once its answer is out: the jobs queued while answers are being made run together in
 * the event loop's check phase, after the socket writes of the same turn; shutdown waits for
 * the records (`Accountant.owe`) before it closes the usage store. Off the answer's path, they
 * no longer add to its latency.
 */
function createAfterAnswer(onError = (error: unknown): void => void error) {
  let jobs: (() => void)[] = [];
  const run = () => {
    const batch = jobs;
    jobs = [];
    for (const job of batch) {
      try {
        job();
      } catch (error) {
        onError(error);
      }
    }
  };
  return (job: () => void): void => {
    if (jobs.push(job) === 1) setImmediate(run);
  };
}

/**
 * What tells the gateway the client left: the request's own Cancel, which every edge hands it
 * (REST and GraphQL over HTTP from `http/client-gone.ts`, WebSocket per operation) and which
 * the gateway may then abort itself at the deadline (saving a second one).
 */
export type ClientSignal = Cancel;

export interface Gateway {
  complete(request: ChatRequest, caller: Caller, signal?: ClientSignal): Promise<Completion>;
  /**
   * Resolves once the first token is in hand (every retry and fallback happen before it), so
   * failures before it are thrown here; a failure after it ends the iterable with a GatewayError.
   */
  stream(
    request: ChatRequest,
    caller: Caller,
    signal?: ClientSignal,
  ): Promise<AsyncIterable<CompletionChunk>>;
  embed(request: EmbeddingRequest, caller: Caller, signal?: ClientSignal): Promise<Embeddings>;
}

/** Everything known about one request before its upstream call. */
interface Prepared {
  requestId: string;
  started: number;
  caller: Caller;
  request: ChatRequest;
  route: Route;
  admission: Admission;
  cacheKey: { model: string; hash: string } | undefined;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, router, admitter, cache, accountant } = deps;
  const afterAnswer = createAfterAnswer(deps.onAfterAnswerError);
  const ttlMs = config.cache.ttlSeconds * 1000;

  /** One request's Outcome: `fields` over the defaults of a request that reached no provider. */
  function outcome(
    p: { requestId: string; caller: Caller; request?: ChatRequest | undefined },
    alias: string,
    stream: boolean,
    fields: Partial<Outcome>,
  ): Outcome {
    return {
      requestId: p.requestId,
      caller: p.request?.user ? withUser(p.caller, p.request.user) : p.caller,
      alias,
      request: p.request,
      stream,
      provider: null,
      model: null,
      usage: null,
      costUsd: 0,
      priced: true,
      savedUsd: 0,
      cacheHit: false,
      content: null,
      error: null,
      latencyMs: 0,
      ttftMs: null,
      attempts: [],
      ...fields,
    };
  }

  /** Steps 1–3. Returns the cached answer on a hit. */
  async function prepare(
    input: ChatRequest,
    caller: Caller,
    requestId: string,
    started: number,
  ): Promise<{ prepared: Prepared; hit: CachedAnswer | undefined }> {
    const request = normalizeRequest(input);
    const route = router.resolve(request.model, caller);
    const admitted = admitter.admit(request, caller, route.targets);
    const admission = admitted instanceof Promise ? await admitted : admitted;
    const cacheKey =
      config.cache.enabled && request.cache !== 'BYPASS'
        ? {
            model: request.model,
            hash: `${config.cache.scope === 'global' ? '*' : caller.clientId}:${cacheKeyOf(request)}`,
          }
        : undefined;
    const hit = cacheKey && request.cache === 'DEFAULT' ? await cache.get(cacheKey) : undefined;
    return { prepared: { requestId, started, caller, request, route, admission, cacheKey }, hit };
  }

  /**
   * Steps 6–7 for an answer that came whole: its cost (the answer carries it), the settlement
   * of its limits and budget and the cache now; its record once the answer is out.
   */
  function finish(
    p: Prepared,
    target: Target,
    response: ChatResponse,
    attempts: Attempt[],
    stream: boolean,
    ttftMs: number | null,
  ) {
    const latencyMs = performance.now() - p.started;
    const { costUsd, priced } = accountant.cost(
      response.usage,
      target.provider,
      target.model,
      response.model,
    );
    // Settled and cached now: the next operation of the same GraphQL document must see both.
    void p.admission.settle({ tokens: response.usage.totalTokens, costUsd });
    // An answer cut short by a ceiling the client did not ask for is not its request's answer.
    const cutByBudget =
      response.finishReason === 'LENGTH' &&
      p.admission.maxTokens !== undefined &&
      p.admission.maxTokens !== p.request.maxTokens;
    if (p.cacheKey && !cutByBudget)
      void cache.set(p.cacheKey, { provider: target.provider, response, costUsd }, ttlMs);
    afterAnswer(() =>
      accountant.record(
        outcome(p, p.route.alias, stream, {
          provider: target.provider,
          model: response.model,
          usage: response.usage,
          costUsd,
          priced,
          content: response.content,
          latencyMs,
          ttftMs,
          attempts,
        }),
      ),
    );
    return { costUsd, latencyMs };
  }

  function recordHit(p: Prepared, hit: CachedAnswer, stream: boolean): number {
    const latencyMs = performance.now() - p.started;
    void p.admission.settle({ tokens: 0, costUsd: 0 });
    afterAnswer(() =>
      accountant.record(
        outcome(p, p.route.alias, stream, {
          provider: hit.provider,
          model: hit.response.model,
          usage: hit.response.usage,
          savedUsd: hit.costUsd,
          cacheHit: true,
          content: hit.response.content,
          latencyMs,
          ttftMs: stream ? latencyMs : null,
        }),
      ),
    );
    return latencyMs;
  }

  function recordFailure(
    p: { requestId: string; caller: Caller; alias: string; request?: ChatRequest },
    started: number,
    error: unknown,
    attempts: Attempt[],
    stream: boolean,
  ) {
    accountant.record(
      outcome(p, p.alias, stream, { error, latencyMs: performance.now() - started, attempts }),
    );
  }

  /** What `serve` hands a chat request's own steps. */
  interface Turn {
    p: Prepared;
    hit: CachedAnswer | undefined;
    attempts: Attempt[];
    deadline: Deadline;
    /** The call's context for `callTargets`: ordered targets, the deadline's signals. */
    call: CallContext;
    /** The deadline's end now belongs to someone else (a stream past its first token). */
    handOff(): void;
  }

  /**
   * Steps 1–3, then `steps` (call, account, cache). A failure anywhere gives back what was
   * reserved and is recorded once; the deadline ends with the request unless handed off.
   */
  async function serve<T>(
    input: ChatRequest,
    caller: Caller,
    signal: ClientSignal,
    stream: boolean,
    steps: (turn: Turn) => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    const requestId = newRequestId();
    accountant.owe(requestId);
    const attempts: Attempt[] = [];
    const deadline = startDeadline(signal, config.retry.deadlineMs);
    let prepared: Prepared | undefined;
    let handedOff = false;
    try {
      const { prepared: p, hit } = await prepare(input, caller, requestId, started);
      prepared = p;
      const call = {
        request: upstreamRequest(p.request, p.admission.maxTokens),
        targets: router.order(p.route),
        signal: deadline.signal,
        expired: () => deadline.expired,
      };
      return await steps({ p, hit, attempts, deadline, call, handOff: () => (handedOff = true) });
    } catch (error) {
      void prepared?.admission.settle({ tokens: 0, costUsd: 0 });
      const who = { requestId, caller, alias: input.model, request: prepared?.request };
      recordFailure(who, started, error, attempts, stream);
      throw withRequestId(error, requestId);
    } finally {
      if (!handedOff) deadline.clear();
    }
  }

  return {
    complete: (input, caller, signal = new Cancel()) =>
      serve(input, caller, signal, false, async ({ p, hit, attempts, call }) => {
        if (hit) {
          const latencyMs = recordHit(p, hit, false);
          return completionOf(
            hit.response,
            p.requestId,
            hit.provider,
            0,
            true,
            latencyMs,
            attempts,
          );
        }
        const { result, target } = await callTargets(deps, call, attempts, (provider, c) =>
          provider.chat(c),
        );
        const { costUsd, latencyMs } = finish(p, target, result, attempts, false, null);
        return completionOf(
          result,
          p.requestId,
          target.provider,
          costUsd,
          false,
          latencyMs,
          attempts,
        );
      }),

    stream: (input, caller, signal = new Cancel()) =>
      serve(input, caller, signal, true, async ({ p, hit, attempts, deadline, call, handOff }) => {
        if (hit) {
          recordHit(p, hit, true);
          return replay(p.requestId, hit);
        }
        const { result: opened, target } = await callTargets(
          deps,
          call,
          attempts,
          async (provider, c) => {
            const iterator = provider.chatStream(c)[Symbol.asyncIterator]();
            return { iterator, first: await iterator.next() };
          },
        );
        // Past the first token the deadline no longer applies; the client's leaving still stops
        // the upstream, even one stalled mid-stream, until the relay ends and lets go.
        deadline.stopTimer();
        handOff();
        const ttftMs = performance.now() - p.started;
        const chunks = relay({
          id: p.requestId,
          target,
          iterator: opened.iterator,
          first: opened.first,
          attempts,
          release: deadline.clear,
          finish: (response) => finish(p, target, response, attempts, true, ttftMs).costUsd,
          broken: (text, error) => {
            // Cut, failed, or left early by the client: record what was streamed, estimated.
            const usage = estimateUsage(p.request.messages, text, p.request.tools);
            const { provider, model } = target;
            const { costUsd, priced } = accountant.cost(usage, provider, model, model);
            accountant.record(
              outcome(p, p.route.alias, true, {
                provider,
                model,
                usage,
                costUsd,
                priced,
                content: text,
                error,
                latencyMs: performance.now() - p.started,
                ttftMs,
                attempts,
              }),
            );
            void p.admission.settle({ tokens: usage.totalTokens, costUsd });
          },
        });
        return leavable(chunks, deadline.abort);
      }),

    async embed(input, caller, signal = new Cancel()) {
      const started = performance.now();
      const requestId = newRequestId();
      accountant.owe(requestId);
      const attempts: Attempt[] = [];
      const who = input.user ? withUser(caller, input.user) : caller;
      const deadline = startDeadline(signal, config.retry.deadlineMs);
      try {
        if (input.input.length === 0) throw badInput('input', 'input must not be empty');
        const route = router.resolve(input.model, caller);
        const targets = router.order(route).filter((t) => deps.providers.get(t.provider)?.embed);
        if (targets.length === 0)
          throw badInput('model', `"${input.model}" has no provider that makes embeddings`);
        const { result, target } = await callTargets(
          deps,
          {
            request: { model: input.model, messages: [], cache: 'BYPASS' },
            targets,
            signal: deadline.signal,
            expired: () => deadline.expired,
          },
          attempts,
          (provider, call) =>
            provider.embed!({
              input: input.input,
              model: call.model,
              key: call.key,
              signal: call.signal,
              ...(input.dimensions !== undefined && { dimensions: input.dimensions }),
            }),
        );
        const latencyMs = performance.now() - started;
        const { costUsd, priced } = accountant.cost(
          result.usage,
          target.provider,
          target.model,
          result.model,
        );
        accountant.record(
          outcome({ requestId, caller: who }, route.alias, false, {
            provider: target.provider,
            model: result.model,
            usage: result.usage,
            costUsd,
            priced,
            latencyMs,
            attempts,
          }),
        );
        return {
          id: requestId,
          provider: target.provider,
          costUsd,
          latencyMs,
          attempts,
          model: result.model,
          embeddings: result.embeddings,
          usage: result.usage,
        };
      } catch (error) {
        recordFailure(
          { requestId, caller: who, alias: input.model },
          started,
          error,
          attempts,
          false,
        );
        throw withRequestId(error, requestId);
      } finally {
        deadline.clear();
      }
    },
  };
}

/**
 * The request as sent upstream: with the answer's ceiling a budget pays for, when it sets one.
 * The client's own request stays as it was, for the cache key and the usage record.
 */
function upstreamRequest(request: ChatRequest, maxTokens: number | undefined): ChatRequest {
  return maxTokens === undefined || maxTokens === request.maxTokens
    ? request
    : { ...request, maxTokens };
}

/** The id of the failed request each thrown error was recorded under (its usage row's id). */
const failedRequestIds = new WeakMap<object, string>();

function withRequestId(error: unknown, requestId: string): unknown {
  if (typeof error === 'object' && error !== null) failedRequestIds.set(error, requestId);
  return error;
}

/** The request id a failure was recorded under, when the gateway recorded it. */
export const requestIdOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null ? failedRequestIds.get(error) : undefined;

/*
 * Objects are written out field by field below, not spread: in this V8 (Node 20) a literal that
 * spreads an object and then adds fields, `{ ...a, b }`, costs about 400 ns per added field
 * (bench/pipeline.ts showed ~5 µs per request in such spreads); listing the fields costs ~10 ns.
 */

function completionOf(
  response: ChatResponse,
  id: string,
  provider: string,
  costUsd: number,
  cached: boolean,
  latencyMs: number,
  attempts: Attempt[],
): Completion {
  return {
    model: response.model,
    content: response.content,
    toolCalls: response.toolCalls,
    finishReason: response.finishReason,
    usage: response.usage,
    id,
    provider,
    costUsd,
    cached,
    latencyMs,
    attempts,
  };
}

function withUser(caller: Caller, user: string): Caller {
  return caller.models
    ? { clientId: caller.clientId, admin: caller.admin, models: caller.models, user }
    : { clientId: caller.clientId, admin: caller.admin, user };
}
