/**
 * A fake Anthropic Messages server, and builders of the wire bodies and streams it sends, as the
 * API sends them (PROVIDERS.md §2): message bodies; named SSE events (the SDK drops unnamed
 * ones) with a `ping`, `thinking` blocks (`thinking_delta`, `signature_delta`),
 * `input_json_delta` fragments, cumulative `message_delta` usage and `message_stop`; error bodies with the real statuses (401, 400, 429 with `retry-after` and
 * `anthropic-ratelimit-*-reset`, 500, 529) and the in-band `error` event.
 */
import {
  createFakeUpstream,
  splitWrites,
  type RecordedCall,
  type Scenario,
} from '../helpers/fake-upstream.js';
import type { FakeFailure, FakeReply, ProviderFake } from './types.js';
import { checkAnthropicImages } from './images.js';

export interface AnthropicSseEvent {
  event: string;
  data: Record<string, unknown>;
}

export const anthropicStopReasons = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
} as const;

export const countWords = (text: string): number => text.split(/\s+/).filter(Boolean).length;

/** The reply's usage in Anthropic's buckets: `prompt` includes `cached`, input_tokens does not. */
export function anthropicUsage(reply: FakeReply): Record<string, unknown> {
  const prompt = reply.usage?.prompt ?? 11;
  const cached = reply.usage?.cached ?? 0;
  return {
    input_tokens: prompt - cached,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: reply.usage?.completion ?? countWords(reply.text ?? ''),
    service_tier: 'standard',
  };
}

function stopReason(reply: FakeReply): string {
  const finish = reply.finish ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop');
  return anthropicStopReasons[finish];
}

/** A whole `type: "message"` body. */
export function anthropicMessage(reply: FakeReply, model: string, id = 'msg_fake'): unknown {
  const content: Record<string, unknown>[] = [];
  if (reply.thinking !== undefined) content.push(thinkingBlock(reply.thinking));
  if (reply.text) content.push({ type: 'text', text: reply.text });
  for (const call of reply.toolCalls ?? []) {
    content.push({
      type: 'tool_use',
      id: call.id,
      name: call.name,
      input: JSON.parse(call.arguments),
    });
  }
  return {
    model: reply.model ?? model,
    id,
    type: 'message',
    role: 'assistant',
    content,
    stop_reason: stopReason(reply),
    stop_sequence: null,
    usage: anthropicUsage(reply),
  };
}

/** A `thinking` block, with the signature the API adds to check it when it is sent back. */
export const thinkingBlock = (thinking: string) => ({
  type: 'thinking',
  thinking,
  signature: `EqQBCgIYAhIM${Buffer.from(thinking).toString('base64')}`,
});

/** Text in the pieces a model streams: a word and its trailing space each. */
export const textPieces = (text: string): string[] => text.match(/\s*\S+\s*/g) ?? [text];

/** The event sequence of a streamed message, in the API's order. */
export function anthropicStreamEvents(
  reply: FakeReply,
  model: string,
  id = 'msg_fake',
): AnthropicSseEvent[] {
  const usage = anthropicUsage(reply);
  const events: AnthropicSseEvent[] = [
    messageStart(
      reply.model ?? model,
      id,
      reply.omitUsage ? undefined : { ...usage, output_tokens: 1 },
    ),
  ];
  let index = 0;
  if (reply.thinking !== undefined) {
    const { signature } = thinkingBlock(reply.thinking);
    events.push(
      blockStart(index, { type: 'thinking', thinking: '', signature: '' }),
      ...textPieces(reply.thinking).map((thinking) => ({
        event: 'content_block_delta',
        data: { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } },
      })),
      {
        event: 'content_block_delta',
        data: { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature } },
      },
      blockStop(index),
    );
    index++;
  }
  if (reply.text) {
    events.push(
      blockStart(index, { type: 'text', text: '' }),
      { event: 'ping', data: { type: 'ping' } },
      ...textPieces(reply.text).map((text) => textDelta(index, text)),
      blockStop(index),
    );
    index++;
  }
  for (const call of reply.toolCalls ?? []) {
    const half = Math.ceil(call.arguments.length / 2);
    events.push(
      blockStart(index, { type: 'tool_use', id: call.id, name: call.name, input: {} }),
      jsonDelta(index, ''),
      jsonDelta(index, call.arguments.slice(0, half)),
      jsonDelta(index, call.arguments.slice(half)),
      blockStop(index),
    );
    index++;
  }
  const { cache_creation: _, service_tier: __, ...deltaUsage } = usage;
  events.push(
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: stopReason(reply), stop_sequence: null },
        ...(!reply.omitUsage && { usage: deltaUsage }),
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  );
  return events;
}

export function messageStart(
  model: string,
  id: string,
  usage: Record<string, unknown> | undefined,
): AnthropicSseEvent {
  return {
    event: 'message_start',
    data: {
      type: 'message_start',
      message: {
        model,
        id,
        type: 'message',
        role: 'assistant',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...(usage && { usage }),
      },
    },
  };
}

export const blockStart = (index: number, block: Record<string, unknown>): AnthropicSseEvent => ({
  event: 'content_block_start',
  data: { type: 'content_block_start', index, content_block: block },
});

export const textDelta = (index: number, text: string): AnthropicSseEvent => ({
  event: 'content_block_delta',
  data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text } },
});

export const jsonDelta = (index: number, partial: string): AnthropicSseEvent => ({
  event: 'content_block_delta',
  data: {
    type: 'content_block_delta',
    index,
    delta: { type: 'input_json_delta', partial_json: partial },
  },
});

export const blockStop = (index: number): AnthropicSseEvent => ({
  event: 'content_block_stop',
  data: { type: 'content_block_stop', index },
});

/** The in-band `error` event (the HTTP status is already 200). */
export const errorEvent = (type: string, message: string): AnthropicSseEvent => ({
  event: 'error',
  data: { type: 'error', error: { type, message } },
});

/** Each event as one SSE frame (`event:` line, `data:` line, blank line). */
export function anthropicFrames(
  events: readonly AnthropicSseEvent[],
  options: { crlf?: boolean } = {},
): string[] {
  const eol = options.crlf ? '\r\n' : '\n';
  return events.map(
    ({ event, data }) => `event: ${event}${eol}data: ${JSON.stringify(data)}${eol}${eol}`,
  );
}

/** `{type:'error', error:{type, message}, request_id}`, the body of every error status. */
export function anthropicErrorBody(
  type: string,
  message: string,
  extra: { requestId?: string; details?: Record<string, unknown> } = {},
): unknown {
  return {
    type: 'error',
    error: { type, message, ...(extra.details && { details: extra.details }) },
    request_id: extra.requestId ?? 'req_011CSHoEeqs5C35K2UUqR7Fy',
  };
}

export interface AnthropicFakeOptions {
  /** Only these keys are let in (`x-api-key` or `Authorization: Bearer`); absent: any or none. */
  keys?: string[];
  /** CRLF line endings in streams. */
  crlf?: boolean;
  /** A `: keep-alive` comment before every other event (Anthropic itself sends `ping`s). */
  keepAlive?: boolean;
}

/** `2023-06-01` (our adapter, SDK 0.x) and `2026-10-21` (the installed SDK 1.x). */
export const anthropicVersions = ['2023-06-01', '2026-10-21'] as const;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Scenario => ({
  kind: 'json',
  status,
  body,
  headers: { 'request-id': 'req_011CSHoEeqs5C35K2UUqR7Fy', ...headers },
});

const invalid = (message: string): Scenario =>
  json(400, anthropicErrorBody('invalid_request_error', message));

/**
 * A fake Anthropic server: `POST /v1/messages`, JSON or named SSE events as `stream` asks.
 * After the queued answers, it replies with the text of the last user message.
 */
export async function createAnthropicFake(
  options: AnthropicFakeOptions = {},
): Promise<ProviderFake> {
  const answers: (FakeReply | FakeFailure)[] = [];
  let count = 0;
  const upstream = await createFakeUpstream((call) => {
    const refusal = refuse(call, options.keys);
    if (refusal) return refusal;
    const request = call.json as Record<string, unknown>;
    const model = String(request.model);
    const id = `msg_fake${String(++count).padStart(4, '0')}`;
    const answer = answers.shift() ?? { text: lastUserText(request.messages) };
    const stream = request.stream === true;
    if ('fail' in answer) return failureScenario(answer, { stream, model, id, options });
    if (!stream) return json(200, anthropicMessage(answer, model, id));
    const frames = withOptions(anthropicFrames(anthropicStreamEvents(answer, model, id)), options);
    const text = frames.join('');
    const writes = answer.oneWrite
      ? [text]
      : answer.splitBytes
        ? splitWrites(text, answer.splitBytes)
        : frames;
    return { kind: 'stream', writes, headers: { 'request-id': 'req_011CSHoEeqs5C35K2UUqR7Fy' } };
  });
  return {
    upstream,
    baseUrl: `${upstream.url}/v1`,
    sdkBaseUrl: upstream.url,
    next: (...more) => answers.push(...more),
    close: () => upstream.close(),
  };
}

/** The answer the real API gives to a request it refuses before the model runs, if any. */
function refuse(call: RecordedCall, keys: readonly string[] | undefined): Scenario | undefined {
  const path = call.url.split('?')[0];
  if (call.method !== 'POST' || path !== '/v1/messages') {
    return json(404, anthropicErrorBody('not_found_error', `${call.method} ${path} not found`));
  }
  const bearer = /^Bearer (.+)$/i.exec(String(call.headers.authorization ?? ''))?.[1];
  const key = call.headers['x-api-key'] ?? bearer;
  if (keys && key === undefined) {
    return json(401, anthropicErrorBody('authentication_error', 'x-api-key header is required'));
  }
  if (keys && !keys.includes(String(key))) {
    return json(401, anthropicErrorBody('authentication_error', 'invalid x-api-key'));
  }
  const version = call.headers['anthropic-version'];
  if (version === undefined) return invalid('anthropic-version: header is required');
  if (!(anthropicVersions as readonly string[]).includes(String(version))) {
    return invalid(`anthropic-version: invalid version ${String(version)}`);
  }
  const body = call.json;
  if (!isRecord(body)) return invalid('There was an issue with your request body: not JSON');
  for (const field of ['model', 'max_tokens', 'messages']) {
    if (body[field] === undefined) return invalid(`${field}: Field required`);
  }
  if (typeof body.max_tokens !== 'number' || body.max_tokens < 1) {
    return invalid('max_tokens: Input should be a valid integer greater than 0');
  }
  if (version !== '2023-06-01') {
    for (const field of ['temperature', 'top_p', 'top_k']) {
      if (body[field] !== undefined) {
        return invalid(`${field}: Extra inputs are not permitted in API version ${version}`);
      }
    }
  }
  const badImage = checkAnthropicImages(body.messages);
  if (badImage !== undefined) return invalid(badImage);
  return checkToolResults(body.messages);
}

/** Each `tool_result` must answer a `tool_use` of the assistant turn just before. */
function checkToolResults(messages: unknown): Scenario | undefined {
  if (!Array.isArray(messages) || messages.length === 0) {
    return invalid('messages: at least one message is required');
  }
  let previousIds = new Set<string>();
  for (const [i, message] of messages.entries()) {
    const blocks = isRecord(message) && Array.isArray(message.content) ? message.content : [];
    for (const block of blocks) {
      if (
        isRecord(block) &&
        block.type === 'tool_result' &&
        !previousIds.has(String(block.tool_use_id))
      ) {
        return invalid(
          `messages.${i}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. ` +
            'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
        );
      }
    }
    previousIds = new Set(
      blocks.filter((b) => isRecord(b) && b.type === 'tool_use').map((b) => String(b.id)),
    );
  }
  return undefined;
}

function failureScenario(
  failure: FakeFailure,
  context: { stream: boolean; model: string; id: string; options: AnthropicFakeOptions },
): Scenario {
  const { stream, model, id, options } = context;
  const first = (text: string) =>
    withOptions(
      anthropicFrames([
        messageStart(model, id, anthropicUsage({ text }) as Record<string, unknown>),
        blockStart(0, { type: 'text', text: '' }),
        textDelta(0, text),
      ]),
      options,
    );
  const halfBody = (text: string) =>
    JSON.stringify(anthropicMessage({ text }, model, id)).slice(0, 40);
  switch (failure.fail) {
    case 'rate_limited': {
      const seconds = failure.retryAfterSeconds ?? 1;
      const reset = new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      return json(429, anthropicErrorBody('rate_limit_error', rateLimitMessage), {
        'retry-after': String(seconds),
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': reset,
        'anthropic-ratelimit-tokens-reset': reset,
      });
    }
    case 'quota':
      return json(
        429,
        anthropicErrorBody(
          'rate_limit_error',
          'You have reached your specified API usage limits.',
          {
            details: { error_code: 'enforced_spend_limit_reached' },
          },
        ),
        { 'x-should-retry': 'false' },
      );
    case 'server':
      return json(500, anthropicErrorBody('api_error', 'Internal server error'));
    case 'overloaded':
      return json(529, anthropicErrorBody('overloaded_error', 'Overloaded'));
    case 'auth':
      return json(401, anthropicErrorBody('authentication_error', 'invalid x-api-key'));
    case 'bad_request':
      return invalid('messages.0.content: Input should be a valid list');
    case 'hang':
      return { kind: 'hang' };
    case 'cut_after_first_token': {
      const text = failure.text ?? 'Hello';
      if (!stream) return { kind: 'cut', writes: [halfBody(text)], headers: jsonHeaders };
      return { kind: 'cut', writes: first(text) };
    }
    case 'stall_after_first_token': {
      const text = failure.text ?? 'Hello';
      if (!stream) return { kind: 'stall', writes: [halfBody(text)], headers: jsonHeaders };
      return { kind: 'stall', writes: first(text) };
    }
    case 'stream_error': {
      if (!stream) return json(529, anthropicErrorBody('overloaded_error', 'Overloaded'));
      const error = withOptions(
        anthropicFrames([errorEvent('overloaded_error', 'Overloaded')]),
        options,
      );
      return { kind: 'stream', writes: [...first(failure.text ?? 'Hello'), ...error] };
    }
    case 'truncated': {
      const text = failure.text ?? 'Hello';
      if (!stream) return { kind: 'stream', writes: [halfBody(text)], headers: jsonHeaders };
      return { kind: 'stream', writes: first(text) };
    }
  }
}

const jsonHeaders = { 'content-type': 'application/json' };

const rateLimitMessage =
  'This request would exceed the rate limit for your organization of 50 requests per minute. ' +
  'For details, refer to: https://docs.claude.com/en/api/rate-limits.';

function withOptions(frames: string[], options: AnthropicFakeOptions): string[] {
  let parts = options.keepAlive
    ? frames.flatMap((frame, i) => (i % 2 === 0 ? [': keep-alive\n\n', frame] : [frame]))
    : frames;
  if (options.crlf) parts = parts.map((part) => part.replace(/\n/g, '\r\n'));
  return parts;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The text of the last user message: a string, or its text blocks (else its tool results). */
export function lastUserText(messages: unknown): string {
  const list = Array.isArray(messages) ? messages : [];
  const last = list.filter((m) => isRecord(m) && m.role === 'user').at(-1) as
    Record<string, unknown> | undefined;
  if (typeof last?.content === 'string') return last.content;
  const blocks = Array.isArray(last?.content) ? last.content.filter(isRecord) : [];
  const texts = blocks.filter((b) => b.type === 'text').map((b) => String(b.text));
  if (texts.length > 0) return texts.join('');
  return blocks.map((b) => (typeof b.content === 'string' ? b.content : '')).join('');
}
