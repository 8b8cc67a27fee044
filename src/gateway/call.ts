/**
 * Step 5: call the route's targets until one answers. Each try is recorded as an Attempt.
 * A failure that is the caller's (a 400 from upstream) stops at once; any other moves on.
 */
import type { Provider, ProviderCall } from '../providers/types.js';
import { ErrorCodes, GatewayError, UpstreamError } from './errors.js';
import type { KeyPools } from './keys.js';
import type { Attempt, ChatRequest, Target } from './types.js';

export interface CallContext {
  request: ChatRequest;
  targets: readonly Target[];
  signal: AbortSignal;
}

export interface CallDeps {
  providers: ReadonlyMap<string, Provider>;
  keys: KeyPools;
}

/**
 * Runs `run` against each target in turn; returns the first success with the attempts so far.
 * `run` gets a ProviderCall with a key from the provider's pool.
 */
export async function callTargets<T>(
  deps: CallDeps,
  context: CallContext,
  attempts: Attempt[],
  run: (provider: Provider, call: ProviderCall) => Promise<T>,
): Promise<{ result: T; target: Target }> {
  let lastError: UpstreamError | undefined;
  for (const target of context.targets) {
    const provider = deps.providers.get(target.provider);
    if (!provider) continue;
    const key = deps.keys.next(provider.name);
    const started = performance.now();
    try {
      const result = await run(provider, {
        request: context.request,
        model: target.model,
        key: key?.value,
        signal: context.signal,
      });
      attempts.push({
        provider: target.provider,
        model: target.model,
        status: 'ok',
        error: null,
        latencyMs: performance.now() - started,
      });
      return { result, target };
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason ?? error;
      const failure = UpstreamError.isInstance(error)
        ? error
        : new UpstreamError({
            kind: 'server',
            message: error instanceof Error ? error.message : String(error),
            cause: error,
          });
      attempts.push({
        provider: target.provider,
        model: target.model,
        status: failure.kind,
        error: failure.message,
        latencyMs: performance.now() - started,
      });
      lastError = failure;
      if (failure.kind === 'bad_request') {
        throw new GatewayError(
          ErrorCodes.BAD_USER_INPUT,
          `${target.provider} refused the request: ${failure.message}`,
          {
            attempts,
          },
        );
      }
    }
  }
  throw allFailed(lastError, attempts);
}

export function allFailed(lastError: UpstreamError | undefined, attempts: Attempt[]): GatewayError {
  if (lastError?.kind === 'timeout') {
    return new GatewayError(
      ErrorCodes.UPSTREAM_TIMEOUT,
      `every target failed; the last timed out: ${lastError.message}`,
      { attempts },
    );
  }
  const why = lastError ? `: ${lastError.message}` : ' (no provider is configured for this model)';
  return new GatewayError(ErrorCodes.UPSTREAM_ERROR, `every target failed${why}`, { attempts });
}
