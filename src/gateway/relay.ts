/**
 * A provider's stream events → the client's CompletionChunks. The last chunk carries the
 * finish reason, whole tool calls, usage and cost; it is accounted (and cached) before it goes
 * out. A stream that breaks after it began ends with a GatewayError, never in silence.
 */
import { ErrorCodes, GatewayError, UpstreamError } from './errors.js';
import type {
  Attempt,
  CachedAnswer,
  ChatResponse,
  CompletionChunk,
  StreamEvent,
  Target,
} from './types.js';
import { splitWords } from './words.js';

export interface RelayOptions {
  /** The stream's id, the same on every chunk. */
  id: string;
  target: Target;
  iterator: AsyncIterator<StreamEvent>;
  /** The first event, already read while choosing the target. */
  first: IteratorResult<StreamEvent>;
  attempts: Attempt[];
  /** Lets go of the client's signal: called once, when the relay ends. */
  release(): void;
  /** Accounts (and caches) the whole answer; returns its cost. */
  finish(response: ChatResponse): number;
  /** Records a stream that did not finish: what was streamed, and why. */
  broken(text: string, error: unknown): void;
}

export async function* relay(options: RelayOptions): AsyncGenerator<CompletionChunk> {
  const { id, target, iterator, attempts } = options;
  let text = '';
  let finished = false;
  let failure: unknown = null;
  const chunk = (delta: string): CompletionChunk => ({
    id,
    delta,
    provider: target.provider,
    model: target.model,
    cached: false,
    done: false,
  });
  try {
    let next = options.first;
    let last: Extract<StreamEvent, { type: 'finish' }> | undefined;
    while (!next.done) {
      const event = next.value;
      if (event.type === 'delta') {
        text += event.text;
        yield chunk(event.text);
      } else {
        last = event;
      }
      next = await iterator.next();
    }
    if (!last) {
      throw new UpstreamError({
        kind: 'stream',
        message: `${target.provider} ended the stream without finishing`,
      });
    }
    const { model, toolCalls, finishReason, usage } = last;
    const costUsd = options.finish({
      model,
      content: text === '' && toolCalls.length > 0 ? null : text,
      toolCalls,
      finishReason,
      usage,
    });
    finished = true;
    yield {
      id,
      delta: '',
      provider: target.provider,
      model,
      cached: false,
      done: true,
      finishReason,
      toolCalls,
      usage,
      costUsd,
    };
  } catch (error) {
    failure = brokenAfterBegun(error, target, attempts);
    throw failure;
  } finally {
    options.release();
    if (!finished) {
      // Stop the upstream (the client left, or it broke), then record what was streamed.
      await iterator.return?.().catch(() => {});
      options.broken(text, failure ?? clientLeft());
    }
  }
}

/**
 * What a stream that failed after its first event ends with: an upstream's failure said as the
 * gateway's (`UPSTREAM_TIMEOUT` or `UPSTREAM_ERROR`, with the attempts), anything else as it is.
 */
export function brokenAfterBegun(error: unknown, target: Target, attempts: Attempt[]): unknown {
  return UpstreamError.isInstance(error)
    ? new GatewayError(
        error.kind === 'timeout' ? ErrorCodes.UPSTREAM_TIMEOUT : ErrorCodes.UPSTREAM_ERROR,
        `the stream from ${target.provider} broke after it began: ${error.message}`,
        { attempts },
        { cause: error },
      )
    : error;
}

/** A cache hit on completionStream: the answer again, word by word, then the last chunk. */
export async function* replay(id: string, hit: CachedAnswer): AsyncGenerator<CompletionChunk> {
  const { provider, semantic } = hit;
  const { model, finishReason, toolCalls, usage } = hit.response;
  for (const delta of splitWords(hit.response.content ?? '')) {
    const chunk: CompletionChunk = { id, delta, provider, model, cached: true, done: false };
    if (semantic) chunk.semantic = semantic;
    yield chunk;
  }
  const last: CompletionChunk = {
    id,
    delta: '',
    provider,
    model,
    cached: true,
    done: true,
    finishReason,
    toolCalls,
    usage,
    costUsd: 0,
  };
  if (semantic) last.semantic = semantic;
  yield last;
}

/**
 * An async generator's return() waits behind a pending next(): a consumer leaving while the
 * upstream is silent would wait for it. This return() first aborts the upstream call, so the
 * pending next() settles at once and the generator's cleanup runs. A generator left before its
 * first next() would never run its body, nor so its cleanup (the relay's record): it is started
 * first, its upstream aborted.
 */
export function leavable<T>(
  generator: AsyncGenerator<T>,
  abort: () => void,
): AsyncIterableIterator<T> {
  let started = false;
  return {
    next: () => {
      started = true;
      return generator.next();
    },
    return: async (value?: unknown) => {
      abort();
      if (!started) {
        started = true;
        await generator.next().catch(() => {});
      }
      return generator.return(value as T);
    },
    throw: (error?: unknown) => generator.throw(error),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Why a stream stopped that its client left: what its usage record says. */
export function clientLeft(): Error {
  const error = new Error('the client went away');
  error.name = 'AbortError';
  return error;
}
