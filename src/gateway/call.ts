/**
 * Step 5: call a route's targets until one answers. Per target: a key from the pool (a 429 rests
 * the key and the next key is tried at once; a 401 takes it out of the pool), retries with
 * exponential backoff and full jitter on retryable failures, honouring the upstream's delay,
 * within the request's deadline, behind a circuit breaker. Then the next target. A failure that
 * is the caller's (an upstream 400) stops at once. Every try is recorded as an Attempt.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  DelegateBackoff,
  circuitBreaker,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IRetryBackoffContext,
  type RetryPolicy,
} from 'cockatiel';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema.js';
import type { Provider, ProviderCall } from '../providers/types.js';
import type { TurnTrace } from '../telemetry/spans.js';
import { REDACTED, maskSecrets, type Mask } from '../redact.js';
import { ErrorCodes, GatewayError, UpstreamError } from './errors.js';
import type { KeyPools } from './keys.js';
import type { CancelSignal } from './cancel.js';
import type { Attempt, ChatRequest, Target } from './types.js';

export interface CallDeps {
  providers: ReadonlyMap<string, Provider>;
  keys: KeyPools;
  breakers: Breakers;
  retry: Config['retry'];
  /** A successful try's latency, for the latency strategy. */
  onLatency?(target: Target, ms: number): void;
  /** A key got a 401 and left its pool. */
  onKeyDisabled?(provider: string, keyIndex: number, error: UpstreamError): void;
  /**
   * Masks the config's secrets (and credential-shaped strings) in upstream text before it goes
   * into an attempt, an error, an alert or a log. @default the credential patterns only
   */
  mask?: Mask;
}

export interface CallContext {
  request: ChatRequest;
  targets: readonly Target[];
  /** The client's signal, combined with the request's deadline. */
  signal: CancelSignal;
  /** Whether the request's whole budget is spent (it then aborted `signal`). */
  expired(): boolean;
  /**
   * Milliseconds left before the deadline: a delay the upstream asks for that would outlast it
   * is not waited for (the next target is tried). @default no bound
   */
  remainingMs?(): number;
  /** The request's trace when tracing is on: a span per try (`telemetry/spans.ts`). */
  trace?: TurnTrace | undefined;
}

/** Failures that say something about the target's health (not the key's, not the caller's). */
const tripsBreaker = (error: Error) =>
  UpstreamError.isInstance(error) &&
  ['server', 'overloaded', 'timeout', 'connection', 'stream'].includes(error.kind);

/**
 * Breakers kept, the least recently used dropped first: a provider with no `models` list (echo,
 * openai-compatible) answers any model name a caller makes up, and each name is a target.
 */
const maxBreakers = 10_000;

/** One circuit breaker per target (provider + model), shared by every request of this process. */
export class Breakers {
  /**
   * When each breaker last opened. cockatiel moves Open → HalfOpen only inside `execute`, and
   * the router gives an open target no call: without this, an open circuit would stay open.
   */
  readonly #openedAt = new Map<string, number>();
  readonly #breakers = new LRUCache<string, CircuitBreakerPolicy>({
    max: maxBreakers,
    dispose: (_breaker, id) => this.#openedAt.delete(id),
  });

  constructor(
    private readonly threshold = 5,
    private readonly halfOpenAfterMs = 10_000,
  ) {}

  for(target: Target): CircuitBreakerPolicy {
    const id = `${target.provider}/${target.model}`;
    let breaker = this.#breakers.get(id);
    if (!breaker) {
      breaker = circuitBreaker(handleWhen(tripsBreaker), {
        halfOpenAfter: this.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.threshold),
      });
      const own = breaker;
      // A breaker dropped from the cache while a call still ran leaves no mark behind.
      breaker.onBreak(() => {
        if (this.#breakers.peek(id) === own) this.#openedAt.set(id, Date.now());
      });
      this.#breakers.set(id, breaker);
    }
    return breaker;
  }

  /** Open circuits are skipped when ordering targets; one past its cool-down gets its trial call. */
  isOpen(target: Target): boolean {
    return this.#state(`${target.provider}/${target.model}`) === 'open';
  }

  openCount(): number {
    let open = 0;
    for (const id of this.#breakers.keys()) if (this.#state(id) === 'open') open++;
    return open;
  }

  /** The worst state among a provider's targets. */
  stateOf(provider: string): 'closed' | 'open' | 'half-open' {
    let state: 'closed' | 'open' | 'half-open' = 'closed';
    for (const id of this.#breakers.keys()) {
      if (!id.startsWith(`${provider}/`)) continue;
      const own = this.#state(id);
      if (own === 'open') return 'open';
      if (own === 'half-open') state = 'half-open';
    }
    return state;
  }

  /** An open circuit whose cool-down has passed is half-open: its next call is the trial. */
  #state(id: string): 'closed' | 'open' | 'half-open' {
    // peek: reading a state is no use of the breaker, and keeps the cache's order while iterating.
    switch (this.#breakers.peek(id)?.state) {
      case undefined:
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Open:
        return Date.now() - (this.#openedAt.get(id) ?? 0) < this.halfOpenAfterMs
          ? 'open'
          : 'half-open';
      case CircuitState.Isolated:
        return 'open';
    }
  }
}

const retryPolicies = new WeakMap<Config['retry'], RetryPolicy>();

/**
 * Added to a delay the upstream asked for. A timer counts from the event loop's clock, cached at
 * the start of the loop's turn, while the key's rest counts from Date.now(): without slack the
 * retry can come a few ms before the key it needs is back.
 */
const clockSlackMs = 20;

/**
 * Exponential backoff with full jitter, or the upstream's own delay when it asks for longer.
 * One policy per retry config: cockatiel stops retrying once the call's signal is aborted.
 */
function retryPolicyFor(config: Config['retry']): RetryPolicy {
  let policy = retryPolicies.get(config);
  if (policy) return policy;
  const { initialDelayMs, maxDelayMs } = config;
  const backoff = new DelegateBackoff((ctx: IRetryBackoffContext<unknown>) => {
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** (ctx.attempt - 1));
    const jitter = Math.random() * ceiling;
    const failure = 'error' in ctx.result ? ctx.result.error : undefined;
    const asked = UpstreamError.isInstance(failure) ? (failure.retryAfterMs ?? 0) : 0;
    return Math.max(jitter, asked > 0 ? asked + clockSlackMs : 0);
  });
  policy = retry(
    handleWhen(
      (error) =>
        UpstreamError.isInstance(error) &&
        error.retryable &&
        (error.retryAfterMs ?? 0) <= maxDelayMs,
    ),
    { maxAttempts: config.attempts - 1, backoff },
  );
  retryPolicies.set(config, policy);
  return policy;
}

/**
 * Runs `run` against each target in turn; returns the first success with the attempts so far.
 */
export async function callTargets<T>(
  deps: CallDeps,
  context: CallContext,
  attempts: Attempt[],
  run: (provider: Provider, call: ProviderCall) => Promise<T>,
): Promise<{ result: T; target: Target }> {
  let lastError: UpstreamError | undefined;
  const policy = retryPolicyFor(deps.retry);
  for (const target of context.targets) {
    const provider = deps.providers.get(target.provider);
    if (!provider) continue;
    const breaker = deps.breakers.for(target);
    try {
      const result = await policy.execute(
        () =>
          breaker.execute(() =>
            tryWithKeys(deps, provider, target, context, attempts, run).catch((error: unknown) => {
              throw outlasting(error, context);
            }),
          ),
        // cockatiel reads only `aborted` of it (and hands it to the call, which ignores it).
        context.signal as AbortSignal,
      );
      return { result, target };
    } catch (error) {
      if (context.expired()) {
        throw new GatewayError(
          ErrorCodes.UPSTREAM_TIMEOUT,
          `the request's deadline (${deps.retry.deadlineMs} ms) passed`,
          {
            attempts,
          },
        );
      }
      if (context.signal.aborted) throw context.signal.reason ?? error;
      if (error instanceof BrokenCircuitError) {
        context.trace?.event('conduit.circuit_open', {
          'conduit.provider': target.provider,
          'gen_ai.request.model': target.model,
        });
        attempts.push(
          attemptOf(
            target,
            'circuit_open',
            `the circuit of ${target.provider}/${target.model} is open`,
            0,
          ),
        );
        continue;
      }
      const failure = asUpstreamError(error);
      lastError = failure;
      if (failure.kind === 'bad_request') {
        throw new GatewayError(
          ErrorCodes.BAD_USER_INPUT,
          `${target.provider} refused the request: ${failure.message}`,
          { attempts },
          { cause: failure },
        );
      }
    }
  }
  throw allFailed(lastError, attempts);
}

/** One try of one target: on a 429 or a 401, the next key of the pool is tried at once. */
async function tryWithKeys<T>(
  deps: CallDeps,
  provider: Provider,
  target: Target,
  context: CallContext,
  attempts: Attempt[],
  run: (provider: Provider, call: ProviderCall) => Promise<T>,
): Promise<T> {
  let tried: Set<number> | undefined; // made when a key fails
  let lastError: UpstreamError | undefined;
  for (;;) {
    const key = await deps.keys.next(provider.name, tried);
    if (key === null) {
      throw (
        lastError ??
        new UpstreamError({
          kind: 'rate_limited',
          message: `every key of ${provider.name} is resting or disabled`,
          retryable: false,
        })
      );
    }
    const started = performance.now();
    const traced = context.trace?.startTry(provider.type, target, context.request, key?.index);
    try {
      const result = await run(provider, {
        request: context.request,
        model: target.model,
        key: key?.value,
        signal: context.signal,
      });
      const latencyMs = performance.now() - started;
      attempts.push(attemptOf(target, 'ok', null, latencyMs));
      deps.onLatency?.(target, latencyMs);
      traced?.succeeded();
      return result;
    } catch (error) {
      if (context.signal.aborted) {
        traced?.failed(context.expired() ? timedOut : left);
        // Cut by the request's deadline: still a try, and listed (a client leaving is not).
        if (context.expired()) {
          const latencyMs = performance.now() - started;
          attempts.push(attemptOf(target, 'timeout', "the request's deadline passed", latencyMs));
        }
        throw error;
      }
      const failure = sanitized(asUpstreamError(error), provider.name, key?.value, deps.mask);
      attempts.push(attemptOf(target, failure.kind, failure.message, performance.now() - started));
      traced?.failed(failure);
      if (
        !key ||
        (failure.kind !== 'rate_limited' && failure.kind !== 'auth' && failure.kind !== 'quota')
      )
        throw failure;
      (tried ??= new Set()).add(key.index);
      lastError = failure;
      if (failure.kind === 'auth') {
        await deps.keys.disable(provider.name, key.index);
        deps.onKeyDisabled?.(provider.name, key.index, failure);
      } else {
        // A quota that is spent rests the key for longer than a rate limit does.
        const rest = failure.kind === 'quota' ? 3_600_000 : (failure.retryAfterMs ?? 1000);
        await deps.keys.cool(provider.name, key.index, rest);
      }
    }
  }
}

/** What a try cut short shows on its span. */
const timedOut = { kind: 'timeout', message: "the request's deadline passed" };
const left = { kind: 'cancelled', message: 'the client went away' };

/**
 * A failure whose asked delay would outlast the request's deadline, as not retryable: cockatiel's
 * wait between tries is not cut short by the signal, so waiting would hold the request past its
 * deadline only to fail it then.
 */
function outlasting(error: unknown, context: CallContext): unknown {
  if (!UpstreamError.isInstance(error) || !error.retryable || error.retryAfterMs === undefined)
    return error;
  const left = context.remainingMs?.() ?? Infinity;
  if (error.retryAfterMs + clockSlackMs < left) return error;
  return new UpstreamError({
    kind: error.kind,
    message: error.message,
    ...(error.status !== undefined && { status: error.status }),
    retryAfterMs: error.retryAfterMs,
    retryable: false,
    ...(error.body !== undefined && { body: error.body }),
  });
}

function attemptOf(
  target: Target,
  status: string,
  error: string | null,
  latencyMs: number,
): Attempt {
  return { provider: target.provider, model: target.model, status, error, latencyMs };
}

function asUpstreamError(error: unknown): UpstreamError {
  if (UpstreamError.isInstance(error)) return error;
  return new UpstreamError({
    kind: 'server',
    message: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}

/** The most of an upstream's own words a tenant is shown, and of its body a log keeps. */
const maxDetailChars = 300;
const maxBodyChars = 4096;

/**
 * The failure as tenants, webhooks and logs may see it: the upstream's words with every secret
 * masked and cut short, the key used masked even if the config does not list it, no cause (it
 * holds the raw text). A refused key says nothing more than that: its words are about the key.
 */
function sanitized(
  failure: UpstreamError,
  provider: string,
  key: string | undefined,
  mask: Mask = maskSecrets,
): UpstreamError {
  const clean = (text: string, max: number) => {
    const masked = mask(key ? text.split(key).join(REDACTED) : text);
    return masked.length > max ? `${masked.slice(0, max)}…` : masked;
  };
  const status = failure.status === undefined ? '' : ` ${failure.status}`;
  const message =
    failure.kind === 'auth'
      ? `${provider} answered${status}: the key was refused`
      : clean(failure.message, maxDetailChars);
  return new UpstreamError({
    kind: failure.kind,
    message,
    ...(failure.status !== undefined && { status: failure.status }),
    ...(failure.retryAfterMs !== undefined && { retryAfterMs: failure.retryAfterMs }),
    retryable: failure.retryable,
    ...(failure.body !== undefined && { body: clean(failure.body, maxBodyChars) }),
  });
}

function allFailed(lastError: UpstreamError | undefined, attempts: Attempt[]): GatewayError {
  if (lastError?.kind === 'timeout') {
    return new GatewayError(
      ErrorCodes.UPSTREAM_TIMEOUT,
      `every target failed; the last timed out: ${lastError.message}`,
      {
        attempts,
      },
    );
  }
  const why = lastError ? `: ${lastError.message}` : ' (every target is unavailable)';
  return new GatewayError(ErrorCodes.UPSTREAM_ERROR, `every target failed${why}`, { attempts });
}
