/**
 * An OpenAI-style SSE stream → StreamEvents. Tolerates what the servers of this wire send:
 * OpenAI's usage-only last chunk with `choices: []`, Mistral's usage on the finishing chunk,
 * Azure's first chunk with no choices and an empty id and model, tool calls in fragments by
 * `index` (id and name on the first only) or whole in one delta (Mistral), and `{"error": …}`
 * payloads in the stream. Ends at `data: [DONE]`; a stream that stops before it failed.
 *
 * @see https://platform.openai.com/docs/api-reference/chat-streaming
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { UpstreamError } from '../gateway/errors.js';
import type { StreamEvent, ToolCall, Usage } from '../gateway/types.js';
import { inBandOpenAIError, isOpenAIErrorPayload } from './openai-errors.js';
import { convertOpenAIUsage, estimateOpenAIUsage, failedGeneration } from './openai-response.js';
import {
  argumentsText,
  isRecord,
  textOf,
  type OpenAIDialect,
  type WireCompletion,
  type WireToolCall,
} from './openai-wire.js';
import type { StreamContext } from './types.js';

export async function* parseOpenAIChatStream(
  events: AsyncIterable<EventSourceMessage>,
  context: StreamContext,
  dialect: OpenAIDialect,
): AsyncGenerator<StreamEvent> {
  let model = '';
  let text = '';
  let finishReason: string | null | undefined;
  let usage: Usage | undefined;
  const toolCalls = new ToolCallAssembler();

  for await (const event of events) {
    const data = event.data.trim();
    if (data === '[DONE]') {
      const calls = toolCalls.done();
      yield {
        type: 'finish',
        model: model || context.model,
        finishReason: dialect.mapFinishReason(finishReason),
        toolCalls: calls,
        usage: usage ?? estimateOpenAIUsage(context, text, calls),
      };
      return;
    }
    if (data === '') continue;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch (cause) {
      throw new UpstreamError({
        kind: 'stream',
        message: `${dialect.label} sent a stream event that is not JSON`,
        body: event.data,
        cause,
      });
    }
    if (event.event === 'error' || isOpenAIErrorPayload(payload)) {
      throw inBandOpenAIError(payload, dialect.label, event.data);
    }
    if (!isRecord(payload)) continue;
    const chunk = payload as WireCompletion;
    if (chunk.model) model = chunk.model;
    if (chunk.usage) usage = convertOpenAIUsage(chunk.usage);
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue;
      const piece = textOf(choice.delta?.content);
      if (piece) {
        text += piece;
        yield { type: 'delta', text: piece };
      }
      for (const fragment of choice.delta?.tool_calls ?? []) toolCalls.add(fragment);
      if (choice.finish_reason === 'error') throw failedGeneration(dialect.label, event.data);
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
  }
  throw new UpstreamError({
    kind: 'stream',
    message: `${dialect.label} stream ended before [DONE]`,
  });
}

/** Joins tool-call fragments into whole calls, in the order they began. */
class ToolCallAssembler {
  readonly #calls: ToolCall[] = [];
  readonly #byIndex = new Map<number, ToolCall>();

  add(fragment: WireToolCall): void {
    const call = this.#slot(fragment);
    if (fragment.id && !call.id) call.id = fragment.id;
    if (fragment.function?.name && !call.name) call.name = fragment.function.name;
    const args = fragment.function?.arguments;
    if (typeof args === 'string') call.arguments += args;
    else if (args) call.arguments = argumentsText(args);
  }

  done(): ToolCall[] {
    return this.#calls.map((call, i) => ({
      id: call.id || `call_${i}`,
      name: call.name,
      arguments: call.arguments,
    }));
  }

  #slot(fragment: WireToolCall): ToolCall {
    if (typeof fragment.index === 'number') {
      let call = this.#byIndex.get(fragment.index);
      if (!call) {
        call = this.#push();
        this.#byIndex.set(fragment.index, call);
      }
      return call;
    }
    // No index: a whole call (Mistral), or a continuation of the last one when it has no id.
    const known = fragment.id ? this.#calls.find((c) => c.id === fragment.id) : undefined;
    if (known) return known;
    const last = this.#calls.at(-1);
    return !fragment.id && last ? last : this.#push();
  }

  #push(): ToolCall {
    const call: ToolCall = { id: '', name: '', arguments: '' };
    this.#calls.push(call);
    return call;
  }
}
