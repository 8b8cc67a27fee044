/**
 * The pipeline every request goes through, completions, streams and embeddings alike:
 * normalize → route → admit (rate limits, budget) → cache → [the kind's own call] → account →
 * store. A failure anywhere gives back what was reserved and is recorded once, under the id its
 * error then carries (`failures.ts`).
 */
import type { Config } from '../config/schema.js';
import type { SemanticCache } from '../semantic/semantic-cache.js';
import type { Probe } from '../semantic/types.js';
import type { ResponseCache } from '../state/cache.js';
import type { Accountant } from './account.js';
import type { Admission, Admitter } from './admit.js';
import type { AfterAnswer } from './after-answer.js';
import type { CallContext } from './call.js';
import type { Cancel } from './cancel.js';
import { startDeadline, type Deadline } from './deadline.js';
import { withRequestId } from './failures.js';
import { newRequestId } from './ids.js';
import { cacheKeyOf } from './normalize.js';
import { outcomeOf, upstreamRequest, type Subject } from './results.js';
import type { Route, Router } from './route.js';
import type { TurnTrace } from '../telemetry/spans.js';
import type {
  Attempt,
  CachedAnswer,
  Caller,
  ChatRequest,
  ChatResponse,
  FinishReason,
  Outcome,
  Target,
  ToolCall,
  Usage,
} from './types.js';

/** What tells the pipeline the client left (see `ClientSignal` in gateway.ts). */
type ClientSignal = Cancel;

export interface ServeDeps {
  config: Pick<Config, 'cache' | 'retry'>;
  router: Router;
  admitter: Admitter;
  cache: ResponseCache<CachedAnswer>;
  accountant: Accountant;
  afterAnswer: AfterAnswer;
  /** Absent when the semantic cache is off. */
  semantic?: SemanticCache | undefined;
}

/** What differs between the kinds of request `serve` runs. */
export interface Kind<I> {
  stream: boolean;
  /** The input as the pipeline's request (throws a GatewayError naming what is wrong). */
  normalize(input: I): ChatRequest;
  /** Checks the request once it is read; a refusal here is recorded with its user. */
  accept?(request: ChatRequest): void;
  /** The route narrowed to the targets that can serve this kind (throws when none can). */
  narrow?(route: Route, request: ChatRequest): Route;
  /** False: the usage record carries no request body. @default true */
  bodies?: boolean;
  /** The GenAI operation its tries are traced as. @default chat */
  operation?: 'chat' | 'embeddings';
  /**
   * False: the request is neither looked up in the cache nor kept there (a body passed through
   * as is holds more than the cache key sees). @default true
   */
  cacheable?(route: Route): boolean;
}

/** Everything known about one request before its upstream call. */
export interface Prepared extends Subject {
  started: number;
  request: ChatRequest;
  route: Route;
  admission: Admission;
  cacheKey: { model: string; hash: string } | undefined;
  /** Set when the answer is to be stored in the semantic cache. */
  semantic?: Probe;
  /** The request's trace when tracing is on (`telemetry/spans.ts`). */
  trace: TurnTrace | undefined;
}

/** What `serve` hands a request's own steps. */
export interface Turn {
  p: Prepared;
  hit: CachedAnswer | undefined;
  attempts: Attempt[];
  deadline: Deadline;
  /** The call's context for `callTargets`: ordered targets, the deadline's signals. */
  call: CallContext;
  /** The deadline's end now belongs to someone else (a stream past its first token). */
  handOff(): void;
}

/** What an answer leaves to account for. */
export interface Answered {
  model: string;
  usage: Usage;
  content: string | null;
  /** A chat answer's; absent for an embedding. */
  toolCalls?: ToolCall[];
  finishReason?: FinishReason;
}

export function createServe(deps: ServeDeps) {
  const { config, router, admitter, cache, accountant, afterAnswer, semantic } = deps;
  const ttlMs = config.cache.ttlSeconds * 1000;

  /** Route, admission and cache look-up of a read request. Returns the cached answer on a hit. */
  async function prepare<I>(
    kind: Kind<I>,
    request: ChatRequest,
    caller: Caller,
    requestId: string,
    started: number,
    trace: TurnTrace | undefined,
  ): Promise<{ prepared: Prepared; hit: CachedAnswer | undefined }> {
    kind.accept?.(request);
    const resolved = router.resolve(request.model, caller);
    const route = kind.narrow ? kind.narrow(resolved, request) : resolved;
    if (kind.cacheable?.(route) === false) request.cache = 'BYPASS';
    const admitted = admitter.admit(request, caller, route.targets);
    const admission = admitted instanceof Promise ? await admitted : admitted;
    trace?.admitted(admission.maxTokens);
    const cacheKey =
      config.cache.enabled && request.cache !== 'BYPASS'
        ? {
            model: request.model,
            hash: `${config.cache.scope === 'global' ? '*' : caller.clientId}:${cacheKeyOf(request)}`,
          }
        : undefined;
    const hit = cacheKey && request.cache === 'DEFAULT' ? await cache.get(cacheKey) : undefined;
    trace?.cache(
      'exact',
      hit
        ? 'hit'
        : cacheKey
          ? request.cache === 'REFRESH'
            ? 'refresh'
            : 'miss'
          : request.cache === 'BYPASS'
            ? 'bypass'
            : 'off',
    );
    const bodies = kind.bodies ?? true;
    const prepared: Prepared = {
      requestId,
      started,
      caller,
      alias: route.alias,
      edge: request.route,
      request,
      bodies,
      route,
      admission,
      cacheKey,
      trace,
    };
    return { prepared, hit };
  }

  /**
   * An answer's cost (the answer carries it) and the settlement of its limits and budget now;
   * its record once the answer is out.
   */
  function account(
    p: Prepared,
    target: Target,
    answer: Answered,
    attempts: Attempt[],
    stream: boolean,
    ttftMs: number | null,
  ): { costUsd: number; latencyMs: number } {
    const latencyMs = performance.now() - p.started;
    const { costUsd, priced } = accountant.cost(
      answer.usage,
      target.provider,
      target.model,
      answer.model,
    );
    // Settled now: the next operation of the same GraphQL document must see it.
    void p.admission.settle({ tokens: answer.usage.totalTokens, costUsd });
    p.trace?.answered(answer);
    afterAnswer(() =>
      accountant.record(
        outcomeOf(p, stream, {
          provider: target.provider,
          model: answer.model,
          usage: answer.usage,
          costUsd,
          priced,
          content: answer.content,
          toolCalls: answer.toolCalls ?? [],
          finishReason: answer.finishReason ?? null,
          latencyMs,
          ttftMs,
          attempts,
        }),
      ),
    );
    return { costUsd, latencyMs };
  }

  /** `account`, and the cache: for a chat answer that came whole (or streamed to its end). */
  function finish(
    p: Prepared,
    target: Target,
    response: ChatResponse,
    attempts: Attempt[],
    stream: boolean,
    ttftMs: number | null,
  ) {
    const result = account(p, target, response, attempts, stream, ttftMs);
    // An answer cut short by a ceiling the client did not ask for is not its request's answer.
    const cutByBudget =
      response.finishReason === 'LENGTH' &&
      p.admission.maxTokens !== undefined &&
      p.admission.maxTokens !== p.request.maxTokens;
    // Cached now: the next operation of the same GraphQL document must see it.
    // `cacheOptions.noStore`: read the caches, store this answer in neither.
    if (p.cacheKey && !cutByBudget && !p.request.cacheOptions?.noStore)
      void cache.set(
        p.cacheKey,
        { provider: target.provider, response, costUsd: result.costUsd },
        ttlMs,
      );
    if (p.semantic && !cutByBudget)
      semantic!.keep(
        p.semantic,
        target,
        { provider: target.provider, response, costUsd: result.costUsd },
        ttlMs,
      );
    return result;
  }

  function recordHit(p: Prepared, hit: CachedAnswer, stream: boolean): number {
    const latencyMs = performance.now() - p.started;
    void p.admission.settle({ tokens: 0, costUsd: 0 });
    afterAnswer(() =>
      accountant.record(
        outcomeOf(p, stream, {
          provider: hit.provider,
          model: hit.response.model,
          usage: hit.response.usage,
          savedUsd: hit.costUsd,
          cacheHit: true,
          cacheKind: hit.semantic ? 'semantic' : 'exact',
          similarity: hit.semantic ? hit.semantic.similarity : null,
          content: hit.response.content,
          toolCalls: hit.response.toolCalls,
          finishReason: hit.response.finishReason,
          latencyMs,
          ttftMs: stream ? latencyMs : null,
        }),
      ),
    );
    return latencyMs;
  }

  /** Records a request now, as it is (a stream cut, failed or left after it began). */
  function record(p: Prepared, stream: boolean, fields: Partial<Outcome>): void {
    if (fields.error) p.trace?.failed(fields.error);
    accountant.record(outcomeOf(p, stream, fields));
  }

  /**
   * Runs one request: it owes its record from here; read, routed, admitted and looked up in the
   * cache, then `steps` (call, account, cache). The deadline ends with the request unless
   * handed off.
   */
  async function serve<I extends { model: string; route?: ChatRequest['route'] }, T>(
    kind: Kind<I>,
    input: I,
    caller: Caller,
    signal: ClientSignal,
    steps: (turn: Turn) => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    const requestId = newRequestId();
    accountant.owe(requestId);
    const trace = signal.span?.turn(requestId, caller.clientId, kind.operation ?? 'chat');
    const attempts: Attempt[] = [];
    const deadline = startDeadline(signal, config.retry.deadlineMs);
    let request: ChatRequest | undefined;
    let prepared: Prepared | undefined;
    let handedOff = false;
    try {
      request = kind.normalize(input);
      if (caller.grant) applyGrant(request, caller);
      const looked = await prepare(kind, request, caller, requestId, started, trace);
      const p = (prepared = looked.prepared);
      let hit = looked.hit;
      const call = {
        request: upstreamRequest(p.request, p.admission.maxTokens),
        targets: router.order(p.route),
        signal: deadline.signal,
        expired: () => deadline.expired,
        remainingMs: deadline.remainingMs,
        trace,
      };
      // Exact cache first; then, by meaning.
      if (semantic && !hit && request.cache !== 'BYPASS' && call.targets[0]) {
        const found = await semantic.lookup(request, caller, call.targets[0]);
        hit = found.hit;
        if (found.probe) p.semantic = found.probe;
        trace?.cache('semantic', hit ? 'hit' : 'miss', hit?.semantic?.similarity);
      }
      return await steps({ p, hit, attempts, deadline, call, handOff: () => (handedOff = true) });
    } catch (error) {
      trace?.failed(error);
      void prepared?.admission.settle({ tokens: 0, costUsd: 0 });
      const who = {
        requestId,
        caller,
        alias: input.model,
        edge: input.route,
        request,
        bodies: kind.bodies ?? true,
        trace,
      };
      const latencyMs = performance.now() - started;
      accountant.record(outcomeOf(who, kind.stream, { error, latencyMs, attempts }));
      throw withRequestId(error, requestId);
    } finally {
      if (!handedOff) deadline.clear();
    }
  }

  return { serve, account, finish, recordHit, record };
}

/**
 * A token's bounds on its request: the user is the token's (whatever the request names), and
 * the answer's ceiling at most its `maxTokensPerRequest`.
 */
function applyGrant(request: ChatRequest, caller: Caller): void {
  if (caller.user !== undefined) request.user = caller.user;
  const most = caller.grant!.maxTokensPerRequest;
  if (most !== undefined && request.maxTokens !== 0 && !(request.maxTokens! <= most))
    request.maxTokens = most;
}
