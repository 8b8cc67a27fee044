/**
 * OpenAI's Responses API on the fake OpenAI server (`POST /v1/responses`): the Response object
 * and its named stream events as OpenAI sends them, each with `type` and `sequence_number`
 * (`response.created`, `response.in_progress`, per output item `response.output_item.added`
 * … `response.output_item.done`, then `response.completed` or `response.incomplete` with the
 * usage). A reply's `thinking` comes first as a `reasoning` item with a summary (its
 * `response.reasoning_summary_part.*` and `response.reasoning_summary_text.*` events).
 *
 * @see https://platform.openai.com/docs/api-reference/responses/object
 * @see https://platform.openai.com/docs/api-reference/responses-streaming
 */
import type { ResolvedReply } from './openai.js';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The text of the last user input of a Responses body: `input` as a string, or its last message. */
export function lastInputText(json: unknown): string {
  const input = isRecord(json) ? json.input : undefined;
  if (typeof input === 'string') return input;
  const items = Array.isArray(input) ? input.filter(isRecord) : [];
  const last = items.findLast((item) => item.role === 'user');
  const content = last?.content;
  if (typeof content === 'string') return content;
  const parts = Array.isArray(content) ? content.filter(isRecord) : [];
  return parts.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}

/** The output items of a whole answer. */
function outputItems(
  reply: ResolvedReply,
  thinking: string | undefined,
): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  if (thinking !== undefined) items.push(reasoningItem(reply, thinking));
  if (reply.text !== '' || reply.toolCalls.length === 0) items.push(messageItem(reply, reply.text));
  reply.toolCalls.forEach((call, i) => items.push(functionCallItem(reply, i, 'completed')));
  return items;
}

const reasoningItem = (reply: ResolvedReply, thinking: string) => ({
  id: `rs_${reply.id}`,
  type: 'reasoning',
  summary: [{ type: 'summary_text', text: thinking }],
  encrypted_content: `gAAAAB${reply.id}`,
});

const messageItem = (reply: ResolvedReply, text: string, status = 'completed') => ({
  id: `msg_${reply.id}`,
  type: 'message',
  status,
  role: 'assistant',
  content: status === 'completed' ? [outputText(text)] : [],
});

const outputText = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });

function functionCallItem(reply: ResolvedReply, index: number, status: string) {
  const call = reply.toolCalls[index]!;
  return {
    id: `fc_${reply.id}_${index}`,
    type: 'function_call',
    status,
    arguments: status === 'completed' ? call.arguments : '',
    call_id: call.id,
    name: call.name,
  };
}

/** A Response object: `in_progress` with no output, or the whole answer. */
export function responseBody(
  reply: ResolvedReply,
  request: unknown,
  thinking: string | undefined,
  status: 'in_progress' | 'done' = 'done',
): Record<string, unknown> {
  const json = isRecord(request) ? request : {};
  const incomplete = reply.finish === 'length';
  const done = status === 'done';
  return {
    id: `resp_${reply.id}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: done ? (incomplete ? 'incomplete' : 'completed') : 'in_progress',
    error: null,
    incomplete_details: done && incomplete ? { reason: 'max_output_tokens' } : null,
    instructions: json.instructions ?? null,
    max_output_tokens: json.max_output_tokens ?? null,
    model: reply.model,
    output: done ? outputItems(reply, thinking) : [],
    parallel_tool_calls: true,
    previous_response_id: json.previous_response_id ?? null,
    reasoning: json.reasoning ?? { effort: null, summary: null },
    store: json.store ?? true,
    temperature: 1,
    text: json.text ?? { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: json.tools ?? [],
    top_p: 1,
    truncation: 'disabled',
    ...(done && {
      completed_at: incomplete ? null : Math.floor(Date.now() / 1000),
      usage: {
        input_tokens: reply.usage.prompt,
        input_tokens_details: { cached_tokens: reply.usage.cached, cache_write_tokens: 0 },
        output_tokens: reply.usage.completion,
        output_tokens_details: { reasoning_tokens: thinking === undefined ? 0 : 7 },
        total_tokens: reply.usage.prompt + reply.usage.completion,
      },
    }),
    metadata: json.metadata ?? {},
  };
}

/** One named event, as OpenAI writes it. */
const frame = (data: Record<string, unknown>): string =>
  `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * The events of a streamed answer. `upToFirstText` stops after the first text delta (for the
 * failures that cut a stream after it began).
 */
export function responseStreamEvents(
  reply: ResolvedReply,
  request: unknown,
  thinking: string | undefined,
  upToFirstText = false,
): string[] {
  let sequence = 0;
  const events: string[] = [];
  const emit = (type: string, fields: Record<string, unknown>) =>
    events.push(frame({ type, sequence_number: sequence++, ...fields }));
  const started = responseBody(reply, request, thinking, 'in_progress');
  emit('response.created', { response: started });
  emit('response.in_progress', { response: started });
  let index = 0;
  if (thinking !== undefined) {
    const item = reasoningItem(reply, thinking);
    emit('response.output_item.added', { output_index: index, item: { ...item, summary: [] } });
    const at = { item_id: item.id, output_index: index, summary_index: 0 };
    const part = { type: 'summary_text', text: thinking };
    emit('response.reasoning_summary_part.added', { ...at, part: { ...part, text: '' } });
    emit('response.reasoning_summary_text.delta', { ...at, delta: thinking });
    emit('response.reasoning_summary_text.done', { ...at, text: thinking });
    emit('response.reasoning_summary_part.done', { ...at, part });
    emit('response.output_item.done', { output_index: index, item });
    index++;
  }
  if (reply.text !== '' || reply.toolCalls.length === 0) {
    const item = messageItem(reply, reply.text, 'in_progress');
    const at = { item_id: item.id, output_index: index, content_index: 0 };
    emit('response.output_item.added', { output_index: index, item });
    emit('response.content_part.added', { ...at, part: outputText('') });
    for (const piece of reply.text.match(/\s*\S+/g) ?? []) {
      emit('response.output_text.delta', { ...at, delta: piece, logprobs: [] });
      if (upToFirstText) return events;
    }
    emit('response.output_text.done', { ...at, text: reply.text, logprobs: [] });
    emit('response.content_part.done', { ...at, part: outputText(reply.text) });
    emit('response.output_item.done', {
      output_index: index,
      item: messageItem(reply, reply.text),
    });
    index++;
  }
  reply.toolCalls.forEach((call, i) => {
    const item = functionCallItem(reply, i, 'in_progress');
    emit('response.output_item.added', { output_index: index, item });
    emit('response.function_call_arguments.delta', {
      item_id: item.id,
      output_index: index,
      delta: call.arguments,
    });
    emit('response.function_call_arguments.done', {
      item_id: item.id,
      name: call.name,
      output_index: index,
      arguments: call.arguments,
    });
    emit('response.output_item.done', {
      output_index: index,
      item: functionCallItem(reply, i, 'completed'),
    });
    index++;
  });
  const done = responseBody(reply, request, thinking);
  emit(done.status === 'incomplete' ? 'response.incomplete' : 'response.completed', {
    response: done,
  });
  return events;
}

/** The in-band `error` event OpenAI sends when a stream fails after it began. */
export const responseErrorEvent = (sequence: number): string =>
  frame({
    type: 'error',
    sequence_number: sequence,
    code: 'server_error',
    message: 'The server had an error while processing your request. Sorry about that!',
    param: null,
  });
