/**
 * Anthropic's named SSE events → StreamEvents: `message_start` (model, input usage),
 * `content_block_*` (text deltas; `tool_use` blocks filled by `input_json_delta` fragments),
 * `message_delta` (stop reason, cumulative usage), `message_stop` (the terminator), `error`.
 * `ping` and unknown events are ignored, as the docs ask.
 *
 * @see https://docs.claude.com/en/docs/build-with-claude/streaming
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { UpstreamError } from '../gateway/errors.js';
import type { StreamEvent, ToolCall } from '../gateway/types.js';
import { estimateUsage } from '../usage/tokens.js';
import { parseAnthropicStreamError } from './anthropic-errors.js';
import {
  completionText,
  convertAnthropicUsage,
  mapAnthropicStopReason,
  type AnthropicUsage,
} from './anthropic-response.js';
import type { StreamContext } from './types.js';

/** The loose shape of any event's data. */
interface AnthropicStreamData {
  type?: string;
  index?: number;
  message?: { model?: string; usage?: AnthropicUsage };
  content_block?: { type?: string; text?: string; id?: string; name?: string; input?: unknown };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: AnthropicUsage;
}

interface ToolBlock {
  id: string;
  name: string;
  /** The `input_json_delta` fragments so far. */
  json: string;
  /** The input given whole in `content_block_start` (`{}` when it is streamed). */
  input: unknown;
}

export async function* parseAnthropicStream(
  events: AsyncIterable<EventSourceMessage>,
  context: StreamContext,
): AsyncGenerator<StreamEvent> {
  let model = context.model;
  let stopReason: string | null | undefined;
  let usage: AnthropicUsage | undefined;
  let text = '';
  let stopped = false;
  const tools = new Map<number, ToolBlock>();

  for await (const event of events) {
    // Whatever follows the terminator is ignored; the answer is whole.
    if (stopped) continue;
    if (event.event === 'error') throw parseAnthropicStreamError(event.data);
    const data = parseData(event);
    switch (event.event ?? data.type) {
      case 'message_start':
        model = data.message?.model ?? model;
        if (data.message?.usage) usage = { ...usage, ...definedFields(data.message.usage) };
        break;
      case 'content_block_start': {
        const block = data.content_block;
        if (block?.type === 'tool_use') {
          tools.set(data.index ?? tools.size, {
            id: block.id ?? '',
            name: block.name ?? '',
            json: '',
            input: block.input,
          });
        } else if (block?.type === 'text' && block.text) {
          text += block.text;
          yield { type: 'delta', text: block.text };
        }
        break;
      }
      case 'content_block_delta': {
        const delta = data.delta;
        if (delta?.type === 'text_delta' && delta.text) {
          text += delta.text;
          yield { type: 'delta', text: delta.text };
        } else if (delta?.type === 'input_json_delta') {
          const tool = tools.get(data.index ?? -1);
          if (tool) tool.json += delta.partial_json ?? '';
        }
        break;
      }
      case 'message_delta':
        if (data.delta?.stop_reason !== undefined) stopReason = data.delta.stop_reason;
        // Cumulative counts; current API versions repeat the input fields here too.
        if (data.usage) usage = { ...usage, ...definedFields(data.usage) };
        break;
      case 'message_stop':
        stopped = true;
        break;
      default:
        // ping, content_block_stop, and event types added later.
        break;
    }
  }

  if (!stopped) {
    throw new UpstreamError({
      kind: 'stream',
      message: 'anthropic stream ended before message_stop',
    });
  }
  const toolCalls: ToolCall[] = [...tools.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, tool]) => ({
      id: tool.id,
      name: tool.name,
      arguments: tool.json || JSON.stringify(tool.input ?? {}),
    }));
  const { request } = context;
  yield {
    type: 'finish',
    model,
    finishReason: mapAnthropicStopReason(stopReason),
    toolCalls,
    usage: usage
      ? convertAnthropicUsage(usage)
      : estimateUsage(request.messages, completionText(text, toolCalls), request.tools),
  };
}

function parseData(event: EventSourceMessage): AnthropicStreamData {
  try {
    const value: unknown = JSON.parse(event.data);
    return typeof value === 'object' && value !== null ? (value as AnthropicStreamData) : {};
  } catch (cause) {
    throw new UpstreamError({
      kind: 'stream',
      message: `anthropic sent a ${event.event ?? 'stream'} event that is not JSON`,
      body: event.data,
      cause,
    });
  }
}

/** Drops null and absent fields, so a later partial usage does not erase an earlier count. */
function definedFields(usage: AnthropicUsage): AnthropicUsage {
  return Object.fromEntries(
    Object.entries(usage).filter(([, value]) => typeof value === 'number'),
  ) as AnthropicUsage;
}
