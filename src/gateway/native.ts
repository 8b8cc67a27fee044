/**
 * Pass-through, the gateway's side: a request that came in a provider's own API (Anthropic
 * Messages, OpenAI Responses) goes through the same pipeline as any other (`serve.ts`), and a
 * target whose provider speaks that API gets the client's body as is (`providers/native.ts`);
 * any other target answers by translation. What the edges get back says which happened.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import type { NativeApi, NativeEvent, NativeRequest, Provider } from '../providers/types.js';
import { badInput, UpstreamError } from './errors.js';
import { brokenAfterBegun, clientLeft } from './relay.js';
import type { Route } from './route.js';
import type { Attempt, ChatResponse, Completion, CompletionChunk, Target } from './types.js';

export type { NativeApi, NativeRequest } from '../providers/types.js';

/** A whole answer; `native` is the upstream's own body when the target took the body as is. */
export interface NativeCompletion {
  completion: Completion;
  native?: unknown;
}

/** A stream: the upstream's own events as they came, or the gateway's chunks (translated). */
export type NativeStream =
  | {
      kind: 'native';
      id: string;
      provider: string;
      model: string;
      events: AsyncIterable<EventSourceMessage>;
    }
  | { kind: 'translated'; chunks: AsyncIterable<CompletionChunk> };

/** Whether `provider` takes bodies of `api` as they are. */
export const speaks = (provider: Provider | undefined, api: NativeApi): boolean =>
  provider?.native?.api === api;

/**
 * Whether any target of the route would get the body as is: such a request is not cached
 * (fields the normalised request does not know, `thinking` say, are no part of the cache key).
 */
export const passesThrough = (
  route: Route,
  api: NativeApi,
  providers: ReadonlyMap<string, Provider>,
): boolean => route.targets.some((target) => speaks(providers.get(target.provider), api));

/**
 * The route's targets that may serve the request: all, unless it asks what translation cannot
 * carry; then those that take the body as is (none: the first such field is refused).
 */
export function narrowToNative(
  route: Route,
  native: NativeRequest,
  providers: ReadonlyMap<string, Provider>,
): Route {
  const first = native.untranslatable?.[0];
  if (!first) return route;
  const targets = route.targets.filter((t) => speaks(providers.get(t.provider), native.api));
  if (targets.length === 0) throw badInput(first.field, first.message);
  return targets.length === route.targets.length
    ? route
    : { alias: route.alias, strategy: route.strategy, targets };
}

export interface NativeRelayOptions {
  target: Target;
  iterator: AsyncIterator<NativeEvent>;
  /** The first event, already read while choosing the target. */
  first: IteratorResult<NativeEvent>;
  attempts: Attempt[];
  /** Lets go of the client's signal: called once, when the relay ends. */
  release(): void;
  /** Accounts the whole answer. */
  finish(response: ChatResponse): void;
  /** Records a stream that did not finish: the text streamed, and why. */
  broken(text: string, error: unknown): void;
}

/**
 * The upstream's events as they came; the answer is accounted once the upstream has ended. A
 * stream that breaks after it began ends with a GatewayError (the edge sends its error event).
 */
export async function* relayNative(
  options: NativeRelayOptions,
): AsyncGenerator<EventSourceMessage> {
  const { target, iterator, attempts } = options;
  let text = '';
  let finished = false;
  let failure: unknown = null;
  try {
    let next = options.first;
    let last: ChatResponse | undefined;
    while (!next.done) {
      const event = next.value;
      if (event.type === 'event') {
        text += event.text;
        yield event.message;
      } else {
        last = event.response;
      }
      next = await iterator.next();
    }
    if (!last) {
      throw new UpstreamError({
        kind: 'stream',
        message: `${target.provider} ended the stream without finishing`,
      });
    }
    options.finish(last);
    finished = true;
  } catch (error) {
    failure = brokenAfterBegun(error, target, attempts);
    throw failure;
  } finally {
    options.release();
    if (!finished) {
      await iterator.return?.().catch(() => {});
      options.broken(text, failure ?? clientLeft());
    }
  }
}
