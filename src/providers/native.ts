/**
 * Pass-through of a client's body to a provider that speaks the client's API: the body as the
 * upstream gets it (our model name, the ceiling a budget sets), and the tap that relays a
 * stream's events as they come while the adapter's own stream parser reads them for accounting.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { UpstreamError } from '../gateway/errors.js';
import type { StreamEvent } from '../gateway/types.js';
import type { NativeCall, NativeEvent, NativeWire } from './types.js';

/** The client's body with the target's model, the call's ceiling and the stream flag set. */
export function nativeBody(
  wire: NativeWire,
  call: NativeCall,
  stream: boolean,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...call.native.body, model: call.model, stream };
  const ceiling = call.request.maxTokens;
  if (ceiling !== undefined) body[wire.maxTokensField] = ceiling;
  return body;
}

/**
 * The upstream's events, each yielded as it comes, and then one `finish` with what `parse` (the
 * adapter's stream parser) made of them. Each event is first read by the parser: one it fails
 * on (an in-band error, a body that is not JSON) is thrown instead of relayed, and an end
 * without the API's terminator throws as the translated stream does.
 */
export async function* tapStream(
  messages: AsyncIterable<EventSourceMessage>,
  parse: (events: AsyncIterable<EventSourceMessage>) => AsyncIterable<StreamEvent>,
): AsyncGenerator<NativeEvent> {
  const feed = new Feed();
  let text = '';
  let last: Extract<StreamEvent, { type: 'finish' }> | undefined;
  const parsed = (async () => {
    for await (const event of parse(feed)) {
      if (event.type === 'delta') text += event.text;
      else last = event;
    }
  })();
  parsed.catch(() => {}); // read below, where it is awaited
  try {
    for await (const message of messages) {
      const before = text.length;
      const asked = feed.push(message);
      await Promise.race([asked, parsed]);
      yield { type: 'event', message, text: text.slice(before) };
    }
    feed.end();
    await parsed;
  } finally {
    feed.end();
  }
  if (!last) throw new UpstreamError({ kind: 'stream', message: 'the stream gave no answer' });
  const content = text === '' && last.toolCalls.length > 0 ? null : text;
  const { model, toolCalls, finishReason, usage } = last;
  yield { type: 'finish', response: { model, content, toolCalls, finishReason, usage } };
}

/** The parser's source: one message at a time, pushed by `tapStream`. */
class Feed implements AsyncIterable<EventSourceMessage> {
  #waiting: ((result: IteratorResult<EventSourceMessage>) => void) | undefined;
  #ready: IteratorResult<EventSourceMessage>[] = [];
  #asked: (() => void) | undefined;
  #ended = false;

  /** Hands the parser a message; resolves when it asks for the next one (it is read). */
  push(message: EventSourceMessage): Promise<void> {
    const asked = new Promise<void>((resolve) => (this.#asked = resolve));
    this.#give({ value: message, done: false });
    return asked;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#give({ value: undefined, done: true });
  }

  #give(result: IteratorResult<EventSourceMessage>): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting(result);
    else this.#ready.push(result);
  }

  [Symbol.asyncIterator](): AsyncIterator<EventSourceMessage> {
    return {
      next: () => {
        const asked = this.#asked;
        this.#asked = undefined;
        asked?.();
        const ready = this.#ready.shift();
        if (ready) return Promise.resolve(ready);
        return new Promise((resolve) => (this.#waiting = resolve));
      },
    };
  }
}
