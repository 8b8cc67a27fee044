/**
 * The pipeline, and nothing else: validate → admit → cache → route → call → account → store.
 * Edges call `complete` or `stream`; they never see a provider's wire format.
 */
import { randomUUID } from 'node:crypto';
import type { Provider, ProviderCall } from '../providers/types.js';
import { estimateUsage } from '../usage/tokens.js';
import type { Accountant } from './account.js';
import { callTargets, type CallDeps } from './call.js';
import { ErrorCodes, GatewayError, UpstreamError } from './errors.js';
import { normalizeRequest } from './normalize.js';
import type { Route, Router } from './route.js';
import type {
  Attempt,
  Caller,
  ChatRequest,
  Completion,
  CompletionChunk,
  StreamEvent,
  Target,
} from './types.js';

export interface GatewayDeps extends CallDeps {
  router: Router;
  accountant: Accountant;
}

export interface Gateway {
  complete(request: ChatRequest, caller: Caller, signal?: AbortSignal): Promise<Completion>;
  /**
   * Resolves once the first token is in hand (every retry and fallback happen before), so
   * failures before it are thrown here; a failure after it ends the iterable with a GatewayError.
   */
  stream(
    request: ChatRequest,
    caller: Caller,
    signal?: AbortSignal,
  ): Promise<AsyncIterable<CompletionChunk>>;
}

const neverAborted = new AbortController().signal;

export function createGateway(deps: GatewayDeps): Gateway {
  const { router, accountant } = deps;

  /** Steps 1–2 (and 3, when it lands): everything decided before an upstream is called. */
  function prepare(input: ChatRequest, caller: Caller): { request: ChatRequest; route: Route } {
    const request = normalizeRequest(input);
    const route = router.resolve(request.model, caller);
    return { request, route };
  }

  function base(
    requestId: string,
    caller: Caller,
    alias: string,
    request: ChatRequest | undefined,
    stream: boolean,
  ) {
    return {
      requestId,
      caller: request?.user ? { ...caller, user: request.user } : caller,
      alias,
      request,
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
      ttftMs: null,
    };
  }

  return {
    async complete(input, caller, signal = neverAborted) {
      const started = performance.now();
      const requestId = randomUUID();
      const attempts: Attempt[] = [];
      let request: ChatRequest | undefined;
      try {
        const prepared = prepare(input, caller);
        request = prepared.request;
        const { result, target } = await callTargets(
          deps,
          { request, targets: prepared.route.targets, signal },
          attempts,
          (provider, call) => provider.chat(call),
        );
        const latencyMs = performance.now() - started;
        const { costUsd, priced } = accountant.cost(
          result.usage,
          target.provider,
          target.model,
          result.model,
        );
        accountant.record({
          ...base(requestId, caller, prepared.route.alias, request, false),
          provider: target.provider,
          model: result.model,
          usage: result.usage,
          costUsd,
          priced,
          content: result.content,
          latencyMs,
          attempts,
        });
        return {
          ...result,
          id: requestId,
          provider: target.provider,
          costUsd,
          cached: false,
          latencyMs,
          attempts,
        };
      } catch (error) {
        accountant.record({
          ...base(requestId, caller, input.model, request, false),
          error,
          latencyMs: performance.now() - started,
          attempts,
        });
        throw error;
      }
    },

    async stream(input, caller, signal = neverAborted) {
      const started = performance.now();
      const requestId = randomUUID();
      const attempts: Attempt[] = [];
      let request: ChatRequest | undefined;
      let opened: Awaited<ReturnType<typeof openStream>>;
      let route: Route;
      try {
        ({ request, route } = prepare(input, caller));
        opened = await openStream({ request, targets: route.targets, signal }, attempts);
      } catch (error) {
        accountant.record({
          ...base(requestId, caller, input.model, request, true),
          error,
          latencyMs: performance.now() - started,
          attempts,
        });
        throw error;
      }
      const ttftMs = performance.now() - started;
      return relay({ requestId, caller, route, request, opened, attempts, started, ttftMs });
    },
  };

  /** Calls targets until one yields its first event; returns that event and the rest. */
  async function openStream(context: Parameters<typeof callTargets>[1], attempts: Attempt[]) {
    const { result, target } = await callTargets(
      deps,
      context,
      attempts,
      async (provider: Provider, call: ProviderCall) => {
        const iterator = provider.chatStream(call)[Symbol.asyncIterator]();
        const first = await iterator.next();
        return { iterator, first };
      },
    );
    return { ...result, target };
  }

  async function* relay(state: {
    requestId: string;
    caller: Caller;
    route: Route;
    request: ChatRequest;
    opened: {
      iterator: AsyncIterator<StreamEvent>;
      first: IteratorResult<StreamEvent>;
      target: Target;
    };
    attempts: Attempt[];
    started: number;
    ttftMs: number;
  }): AsyncGenerator<CompletionChunk> {
    const { requestId, request, opened, attempts } = state;
    const { iterator, target } = opened;
    let text = '';
    let finished: Extract<StreamEvent, { type: 'finish' }> | undefined;
    let failure: unknown = null;
    const chunk = (delta: string): CompletionChunk => ({
      id: requestId,
      delta,
      provider: target.provider,
      model: target.model,
      cached: false,
      done: false,
    });
    try {
      let next = opened.first;
      while (!next.done) {
        const event = next.value;
        if (event.type === 'delta') {
          text += event.text;
          yield chunk(event.text);
        } else {
          finished = event;
        }
        next = await iterator.next();
      }
      if (!finished)
        throw new UpstreamError({
          kind: 'stream',
          message: `${target.provider} ended the stream without finishing`,
        });
      const { costUsd, priced } = accountant.cost(
        finished.usage,
        target.provider,
        target.model,
        finished.model,
      );
      // Recorded before the last chunk goes out: a client that leaves on it loses nothing.
      accountant.record({
        ...base(requestId, state.caller, state.route.alias, request, true),
        provider: target.provider,
        model: finished.model,
        usage: finished.usage,
        costUsd,
        priced,
        content: text,
        latencyMs: performance.now() - state.started,
        ttftMs: state.ttftMs,
        attempts,
      });
      yield {
        ...chunk(''),
        model: finished.model,
        done: true,
        finishReason: finished.finishReason,
        toolCalls: finished.toolCalls,
        usage: finished.usage,
        costUsd,
      };
    } catch (error) {
      failure = UpstreamError.isInstance(error)
        ? new GatewayError(
            error.kind === 'timeout' ? ErrorCodes.UPSTREAM_TIMEOUT : ErrorCodes.UPSTREAM_ERROR,
            `the stream from ${target.provider} failed after it began: ${error.message}`,
            { attempts },
            { cause: error },
          )
        : error;
      throw failure;
    } finally {
      if (!finished || failure) {
        // Cut, failed or left early by the client: stop the upstream, record what was streamed.
        await iterator.return?.().catch(() => {});
        const usage = estimateUsage(request.messages, text, request.tools);
        const { costUsd, priced } = accountant.cost(
          usage,
          target.provider,
          target.model,
          target.model,
        );
        accountant.record({
          ...base(requestId, state.caller, state.route.alias, request, true),
          provider: target.provider,
          model: target.model,
          usage,
          costUsd,
          priced,
          content: text,
          error: failure ?? abortError(),
          latencyMs: performance.now() - state.started,
          ttftMs: state.ttftMs,
          attempts,
        });
      }
    }
  }
}

function abortError(): Error {
  const error = new Error('the client went away');
  error.name = 'AbortError';
  return error;
}
