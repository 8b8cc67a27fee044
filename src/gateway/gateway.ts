/**
 * The gateway: completions, streams and embeddings, each one `serve` of the same pipeline
 * (serve.ts: normalize → route → admit → cache → call → account → store) with its own call.
 * Edges call `complete`, `stream` or `embed`; they never see a provider's wire format. The edges
 * that speak a provider's own API call `completeNative` and `streamNative`: a target of that
 * provider type gets the client's body as is, and its answer comes back as is (`native.ts`).
 */
import { estimateUsage } from '../usage/tokens.js';
import type { Accountant } from './account.js';
import type { Admitter } from './admit.js';
import { createAfterAnswer } from './after-answer.js';
import { callTargets, type CallDeps } from './call.js';
import { Cancel } from './cancel.js';
import { badInput } from './errors.js';
import { hasImages, narrowToImages } from './images.js';
import { normalizeRequest } from './normalize.js';
import { leavable, relay, replay } from './relay.js';
import { completionOf, embeddingsOf } from './results.js';
import type { Route, Router } from './route.js';
import {
  narrowToNative,
  passesThrough,
  relayNative,
  speaks,
  type NativeCompletion,
  type NativeRequest,
  type NativeStream,
} from './native.js';
import { createServe, type Kind, type Prepared } from './serve.js';
import type {
  Attempt,
  CachedAnswer,
  Caller,
  ChatRequest,
  Completion,
  CompletionChunk,
  EmbeddingRequest,
  Embeddings,
  Target,
} from './types.js';
import type { Config } from '../config/schema.js';
import type { EmbedThroughGateway } from '../semantic/provider-embedder.js';
import type { SemanticCache } from '../semantic/semantic-cache.js';
import type { ResponseCache } from '../state/cache.js';

export type { CachedAnswer } from './types.js';
export { requestIdOf } from './failures.js';

export interface GatewayDeps extends CallDeps {
  config: Pick<Config, 'cache' | 'retry'>;
  router: Router;
  admitter: Admitter;
  cache: ResponseCache<CachedAnswer>;
  accountant: Accountant;
  /** Recording a finished request threw (it is not retried). */
  onAfterAnswerError?(error: unknown): void;
  /** The semantic cache, made with the gateway's own embeddings path; absent when off. */
  semantic?: (embed: EmbedThroughGateway) => SemanticCache;
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
  /**
   * Admitted like a completion (rate limits count it; a budget reserves its prompt and is
   * charged its cost), never cached; routed to the targets whose provider makes embeddings.
   */
  embed(request: EmbeddingRequest, caller: Caller, signal?: ClientSignal): Promise<Embeddings>;
  /**
   * `complete` for a request that came in a provider's own API (`native.ts`): a target whose
   * provider speaks it gets the client's body as is and its answer comes back as is; any other
   * target answers by translation. Never cached when a target may take the body as is.
   */
  completeNative(
    request: ChatRequest,
    caller: Caller,
    signal: ClientSignal,
    native: NativeRequest,
  ): Promise<NativeCompletion>;
  /** `stream` for a request that came in a provider's own API, as `completeNative`. */
  streamNative(
    request: ChatRequest,
    caller: Caller,
    signal: ClientSignal,
    native: NativeRequest,
  ): Promise<NativeStream>;
}

export function createGateway(deps: GatewayDeps): Gateway {
  /** A request with images goes only to providers that take them (else a 400 names them). */
  const takesImages = (name: string) => deps.providers.get(name)?.images !== false;
  const narrowChat = (route: Route, request: ChatRequest): Route => {
    if (!hasImages(request)) return route;
    const targets = narrowToImages(route.targets, takesImages);
    return targets.length === route.targets.length
      ? route
      : { alias: route.alias, strategy: route.strategy, targets };
  };
  const chat: Kind<ChatRequest> = {
    stream: false,
    normalize: normalizeRequest,
    narrow: narrowChat,
  };
  const chatStream: Kind<ChatRequest> = {
    stream: true,
    normalize: normalizeRequest,
    narrow: narrowChat,
  };

  /**
   * A request in a provider's own API: never cached when a target may take its body as is, and
   * routed only to such targets when it asks what translation cannot carry.
   */
  const nativeKind = (native: NativeRequest, stream: boolean): Kind<ChatRequest> => ({
    stream,
    normalize: normalizeRequest,
    narrow: (route, request) => narrowChat(narrowToNative(route, native, deps.providers), request),
    cacheable: (route) => !passesThrough(route, native.api, deps.providers),
  });

  const afterAnswer = createAfterAnswer(deps.onAfterAnswerError);
  const semantic = deps.semantic?.((request, caller, signal) =>
    gateway.embed(request, caller, signal),
  );
  const { serve, account, finish, recordHit, record } = createServe({
    config: deps.config,
    router: deps.router,
    admitter: deps.admitter,
    cache: deps.cache,
    accountant: deps.accountant,
    afterAnswer,
    semantic,
  });

  /**
   * An embedding request goes through the pipeline as a chat request of its input, asking for
   * no answer tokens: admission estimates its tokens and cost from that, as for a prompt.
   */
  const embedding: Kind<EmbeddingRequest> = {
    stream: false,
    bodies: false,
    operation: 'embeddings',
    normalize: (input) => ({
      model: input.model,
      messages: input.input.map((content) => ({ role: 'user', content })),
      maxTokens: 0,
      cache: 'BYPASS',
      ...(input.user !== undefined && { user: input.user }),
      ...(input.route !== undefined && { route: input.route }),
    }),
    accept(request) {
      if (request.messages.length === 0) throw badInput('input', 'input must not be empty');
    },
    narrow(route) {
      const targets = route.targets.filter((t) => deps.providers.get(t.provider)?.embed);
      if (targets.length === 0)
        throw badInput('model', `"${route.alias}" has no provider that makes embeddings`);
      return targets.length === route.targets.length
        ? route
        : { alias: route.alias, strategy: route.strategy, targets };
    },
  };

  /** A cache hit, recorded, as the Completion `complete` answers. */
  function hitCompletion(p: Prepared, hit: CachedAnswer, attempts: Attempt[]): Completion {
    const latencyMs = recordHit(p, hit, false);
    const { response, provider } = hit;
    const completion = completionOf(response, p.requestId, provider, 0, true, latencyMs, attempts);
    if (hit.semantic) completion.semantic = hit.semantic;
    return completion;
  }

  /** A stream cut, failed, or left early by the client: records what was streamed, estimated. */
  function broken(
    p: Prepared,
    target: Target,
    attempts: Attempt[],
    ttftMs: number,
    text: string,
    error: unknown,
  ): void {
    const usage = estimateUsage(p.request.messages, text, p.request.tools);
    const { provider, model } = target;
    const { costUsd, priced } = deps.accountant.cost(usage, provider, model, model);
    record(p, true, {
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
    });
    void p.admission.settle({ tokens: usage.totalTokens, costUsd });
  }

  const gateway: Gateway = {
    complete: (input, caller, signal = new Cancel()) =>
      serve(chat, input, caller, signal, async ({ p, hit, attempts, call }) => {
        if (hit) return hitCompletion(p, hit, attempts);
        const { result, target } = await callTargets(deps, call, attempts, (provider, c) =>
          provider.chat(c),
        );
        const { costUsd, latencyMs } = finish(p, target, result, attempts, false, null);
        const id = p.requestId;
        return completionOf(result, id, target.provider, costUsd, false, latencyMs, attempts);
      }),

    stream: (input, caller, signal = new Cancel()) =>
      serve(chatStream, input, caller, signal, async (turn) => {
        const { p, hit, attempts, deadline, call } = turn;
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
        turn.handOff();
        const ttftMs = performance.now() - p.started;
        const chunks = relay({
          id: p.requestId,
          target,
          iterator: opened.iterator,
          first: opened.first,
          attempts,
          release: deadline.clear,
          finish: (response) => finish(p, target, response, attempts, true, ttftMs).costUsd,
          broken: (text, error) => broken(p, target, attempts, ttftMs, text, error),
        });
        return leavable(chunks, deadline.abort);
      }),

    embed: (input, caller, signal = new Cancel()) =>
      serve(embedding, input, caller, signal, async ({ p, attempts, call }) => {
        const { result, target } = await callTargets(deps, call, attempts, (provider, c) =>
          provider.embed!({
            input: input.input,
            model: c.model,
            key: c.key,
            signal: c.signal,
            ...(input.dimensions !== undefined && { dimensions: input.dimensions }),
          }),
        );
        const answer = { model: result.model, usage: result.usage, content: null };
        const { costUsd, latencyMs } = account(p, target, answer, attempts, false, null);
        return embeddingsOf(result, p.requestId, target.provider, costUsd, latencyMs, attempts);
      }),

    completeNative: (input, caller, signal, native) =>
      serve(
        nativeKind(native, false),
        input,
        caller,
        signal,
        async ({ p, hit, attempts, call }) => {
          if (hit) return { completion: hitCompletion(p, hit, attempts) };
          const { result, target } = await callTargets(deps, call, attempts, (provider, c) =>
            speaks(provider, native.api)
              ? provider.native!.forward({ ...c, native })
              : provider.chat(c).then((response) => ({ body: undefined, response })),
          );
          const { response, body } = result;
          const { costUsd, latencyMs } = finish(p, target, response, attempts, false, null);
          const id = p.requestId;
          const completion = completionOf(
            response,
            id,
            target.provider,
            costUsd,
            false,
            latencyMs,
            attempts,
          );
          return body === undefined ? { completion } : { completion, native: body };
        },
      ),

    streamNative: (input, caller, signal, native) =>
      serve(
        nativeKind(native, true),
        input,
        caller,
        signal,
        async (turn): Promise<NativeStream> => {
          const { p, hit, attempts, deadline, call } = turn;
          if (hit) {
            recordHit(p, hit, true);
            return { kind: 'translated', chunks: replay(p.requestId, hit) };
          }
          const { result: opened, target } = await callTargets(
            deps,
            call,
            attempts,
            async (provider, c) => {
              if (speaks(provider, native.api)) {
                const events = provider.native!.forwardStream({ ...c, native });
                const iterator = events[Symbol.asyncIterator]();
                return { native: true as const, iterator, first: await iterator.next() };
              }
              const iterator = provider.chatStream(c)[Symbol.asyncIterator]();
              return { native: false as const, iterator, first: await iterator.next() };
            },
          );
          // As `stream`: past the first event the deadline no longer applies.
          deadline.stopTimer();
          turn.handOff();
          const ttftMs = performance.now() - p.started;
          const common = {
            target,
            attempts,
            release: deadline.clear,
            broken: (text: string, error: unknown) =>
              broken(p, target, attempts, ttftMs, text, error),
          };
          if (!opened.native) {
            const chunks = relay({
              ...common,
              id: p.requestId,
              iterator: opened.iterator,
              first: opened.first,
              finish: (response) => finish(p, target, response, attempts, true, ttftMs).costUsd,
            });
            return { kind: 'translated', chunks: leavable(chunks, deadline.abort) };
          }
          const events = relayNative({
            ...common,
            iterator: opened.iterator,
            first: opened.first,
            finish: (response) => void finish(p, target, response, attempts, true, ttftMs),
          });
          const { provider, model } = target;
          return {
            kind: 'native',
            id: p.requestId,
            provider,
            model,
            events: leavable(events, deadline.abort),
          };
        },
      ),
  };
  return gateway;
}
