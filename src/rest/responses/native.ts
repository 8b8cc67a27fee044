/**
 * The body an OpenAI target gets as is (pass-through, `gateway/native.ts`). A
 * `previous_response_id` names one of OUR stored responses, which OpenAI has never seen: it is
 * expanded, the stored conversation put before this turn's input as input items and the id
 * left out, so the turn still passes through. (What a stored turn kept is its messages and
 * function calls: an earlier answer's reasoning items are not carried.) An `item_reference`
 * names one of our items too; such a turn is served by translation instead.
 */
import { badInput } from '../../gateway/errors.js';
import type { ChatMessage, ContentPart } from '../../gateway/types.js';
import type { NativeRequest } from '../../providers/types.js';
import type { Json } from '../json-fields.js';
import type { ResponsesCall } from './request.js';

/**
 * The request an OpenAI target may take as is; undefined when only translation can serve it
 * (which then refuses what it cannot carry, naming the first such parameter).
 */
export function nativeResponsesRequest(
  body: Json,
  call: ResponsesCall,
  previous: readonly ChatMessage[],
): NativeRequest | undefined {
  const { untranslatable } = call;
  if (call.input.some((item) => 'reference' in item)) {
    const first = untranslatable[0];
    if (first) throw badInput(first.field, first.message);
    return undefined;
  }
  const api = 'openai-responses';
  if (call.previousResponseId === null) return { api, body, headers: {}, untranslatable };
  const input =
    typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : body.input;
  const expanded: Json = {
    ...body,
    input: [...previous.flatMap(toInputItems), ...(input as unknown[])],
  };
  delete expanded.previous_response_id;
  return { api, body: expanded, headers: {}, untranslatable };
}

/**
 * An OpenAI target's Response as the client gets it: as is, but for the
 * `previous_response_id` the client sent, which the upstream never saw.
 */
export function asSent(response: Json, call: ResponsesCall): Json {
  if (call.previousResponseId !== null) response.previous_response_id = call.previousResponseId;
  return response;
}

/** A stored message → the Responses input items that say it. */
function toInputItems(message: ChatMessage): Json[] {
  switch (message.role) {
    case 'tool':
      return [
        {
          type: 'function_call_output',
          call_id: message.toolCallId ?? '',
          output: message.content ?? '',
        },
      ];
    case 'assistant': {
      const items: Json[] = [];
      if (message.content) items.push({ role: 'assistant', content: message.content });
      for (const call of message.toolCalls ?? []) {
        items.push({
          type: 'function_call',
          call_id: call.id,
          name: call.name,
          arguments: call.arguments,
        });
      }
      return items;
    }
    default:
      return [
        {
          role: message.role === 'system' ? 'developer' : 'user',
          content: message.parts ? message.parts.map(toInputPart) : (message.content ?? ''),
        },
      ];
  }
}

function toInputPart(part: ContentPart): Json {
  if (part.type === 'text') return { type: 'input_text', text: part.text };
  const { source } = part;
  const url = source.kind === 'url' ? source.url : `data:${source.mediaType};base64,${source.data}`;
  return { type: 'input_image', image_url: url };
}
