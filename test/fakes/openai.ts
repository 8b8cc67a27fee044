/**
 * A fake OpenAI (and OpenAI-compatible) server: `POST /v1/chat/completions`, JSON or SSE as the
 * request asks, and `POST /v1/embeddings`; OpenAI itself also `POST /v1/responses`
 * (`openai-responses.ts`). It streams the way OpenAI does: a role chunk first,
 * text in word pieces, tool calls in fragments by `index` (id and name on the first only), a
 * finishing chunk with an empty delta, the usage-only chunk with `choices: []` when
 * `stream_options.include_usage` asked for it, then `data: [DONE]` and the end of the body.
 * Options add Azure's first chunk (no choices, empty id and model), `: keep-alive` comments
 * and CRLF. The wire-agnostic part (`createChatWireFake`) is shared with the Mistral fake.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  createFakeUpstream,
  splitWrites,
  type RecordedCall,
  type Scenario,
} from '../helpers/fake-upstream.js';
import type { FakeFailure, FakeReply, FakeToolCall, ProviderFake } from './types.js';
import { checkOpenAIImages } from './images.js';
import {
  lastInputText,
  responseBody,
  responseErrorEvent,
  responseStreamEvents,
} from './openai-responses.js';

export interface WireFakeOptions {
  /** Only these keys are let in (`Authorization: Bearer`); absent: any or none. */
  keys?: string[];
  /** A `: keep-alive` comment before the first event and after every other one. */
  keepAlive?: boolean;
  /** CRLF line endings in streams. */
  crlf?: boolean;
}

export interface OpenAIFakeOptions extends WireFakeOptions {
  /** Azure's oddities: a first chunk with `choices: []` and an empty id and model, filters. */
  azure?: boolean;
}

/** A reply with every default filled in. */
export interface ResolvedReply {
  id: string;
  text: string;
  toolCalls: FakeToolCall[];
  finish: NonNullable<FakeReply['finish']>;
  usage: { prompt: number; completion: number; cached: number };
  model: string;
  omitUsage: boolean;
}

export type HttpFailure = Extract<
  FakeFailure,
  { fail: 'rate_limited' | 'quota' | 'server' | 'overloaded' | 'auth' | 'bad_request' }
>;

/** What one wire needs to say; `createChatWireFake` does the rest. */
export interface ChatWire {
  /** Path of the API version, before `/chat/completions`: `/v1`. */
  versionPath: string;
  /** For the SDK: the URL its base-URL setting takes. */
  sdkBaseUrl(url: string): string;
  /** The answer to a request without a good key (keys given). */
  denied(call: RecordedCall): Scenario;
  /** An answer refusing the request as the real server would, if it would. */
  refuse?(call: RecordedCall): Scenario | undefined;
  /** The 400 for a malformed image part (see images.ts). */
  invalidImage(message: string): Scenario;
  notFound(call: RecordedCall): Scenario;
  completion(reply: ResolvedReply): unknown;
  /** The SSE events of a whole streamed answer, terminator included. */
  streamEvents(reply: ResolvedReply, call: RecordedCall): string[];
  /** The SSE events up to and including the first text delta. */
  firstEvents(reply: ResolvedReply, call: RecordedCall): string[];
  /** The in-band error event. */
  errorEvent(): string;
  /** The terminator event. */
  doneEvent: string;
  failure(failure: HttpFailure): Scenario;
  embeddings(call: RecordedCall): unknown;
  /** Whether `POST {versionPath}/responses` (the Responses API) is served too. */
  responses?: boolean;
}

export const sseEvent = (data: unknown): string =>
  `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

export const keepAliveComment = ': keep-alive\n\n';

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Events → writes: one per event, or all in one, or cut every `splitBytes`; CRLF if asked. */
export function toWrites(
  events: readonly string[],
  options: { splitBytes?: number; oneWrite?: boolean; crlf?: boolean; keepAlive?: boolean } = {},
): string[] {
  let parts = options.keepAlive
    ? events.flatMap((event, i) => (i % 2 === 0 ? [keepAliveComment, event] : [event]))
    : [...events];
  if (options.crlf) parts = parts.map((part) => part.replace(/\n/g, '\r\n'));
  if (options.oneWrite) return [parts.join('')];
  if (options.splitBytes) return splitWrites(parts.join(''), options.splitBytes);
  return parts;
}

/** Words with their leading space, so the pieces join back into the text. */
export const textPieces = (text: string): string[] => text.match(/\s*\S+/g) ?? (text ? [text] : []);

export const countWords = (text: string): number => text.split(/\s+/).filter(Boolean).length;

/** The text of the last user message of an OpenAI-style request. */
export function lastUserText(json: unknown): string {
  const messages = isRecord(json) && Array.isArray(json.messages) ? json.messages : [];
  const last = messages.findLast((m: unknown) => isRecord(m) && m.role === 'user');
  const content: unknown = isRecord(last) ? last.content : '';
  return typeof content === 'string' ? content : JSON.stringify(content ?? '');
}

let sequence = 0;

export function resolveReply(reply: FakeReply | undefined, request: unknown): ResolvedReply {
  const toolCalls = reply?.toolCalls ?? [];
  const text = reply?.text ?? (toolCalls.length > 0 ? '' : lastUserText(request));
  const asked = isRecord(request) && typeof request.model === 'string' ? request.model : 'model';
  return {
    id: `${Date.now().toString(36)}${(++sequence).toString(36).padStart(6, '0')}`,
    text,
    toolCalls,
    finish: reply?.finish ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
    usage: {
      prompt: reply?.usage?.prompt ?? 11,
      completion: reply?.usage?.completion ?? countWords(text),
      cached: reply?.usage?.cached ?? 0,
    },
    model: reply?.model ?? asked,
    omitUsage: reply?.omitUsage ?? false,
  };
}

/** A deterministic unit vector for a text (float32 values, so base64 round-trips exactly). */
export function fakeEmbedding(text: string, dimensions = 8): number[] {
  let seed = 2166136261;
  for (const char of text) seed = Math.imul(seed ^ char.codePointAt(0)!, 16777619) >>> 0;
  const values: number[] = [];
  for (let i = 0; i < dimensions; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    values.push((seed / 2 ** 32) * 2 - 1);
  }
  const norm = Math.hypot(...values) || 1;
  return values.map((value) => Math.fround(value / norm));
}

/** Little-endian float32s in base64, as OpenAI answers `encoding_format: "base64"`. */
export function float32Base64(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

/** The inputs of an embeddings request, as a list. */
export function embeddingInputs(json: unknown): string[] {
  const input = isRecord(json) ? json.input : undefined;
  if (typeof input === 'string') return [input];
  return Array.isArray(input) ? input.map(String) : [];
}

const bearer = (headers: IncomingHttpHeaders): string | undefined =>
  /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];

/** A fake server for a wire in the OpenAI family: routing, auth, queue, failures, streams. */
export async function createChatWireFake(
  wire: ChatWire,
  options: WireFakeOptions,
): Promise<ProviderFake> {
  const answers: (FakeReply | FakeFailure)[] = [];
  const chatPath = `${wire.versionPath}/chat/completions`;
  const embeddingsPath = `${wire.versionPath}/embeddings`;
  const responsesPath = wire.responses ? `${wire.versionPath}/responses` : undefined;

  const respond = (call: RecordedCall): Scenario => {
    const path = call.url.split('?')[0];
    if (
      call.method !== 'POST' ||
      (path !== chatPath && path !== embeddingsPath && path !== responsesPath)
    ) {
      return wire.notFound(call);
    }
    const key = bearer(call.headers);
    if (options.keys && (key === undefined || !options.keys.includes(key)))
      return wire.denied(call);
    const refusal = wire.refuse?.(call);
    if (refusal) return refusal;
    const badImage = path === chatPath ? checkOpenAIImages(call.json) : undefined;
    if (badImage !== undefined) return wire.invalidImage(badImage);
    if (path === responsesPath) return respondResponses(call);
    if (path === embeddingsPath) {
      const head = answers[0];
      if (head && 'fail' in head && isHttpFailure(head))
        return wire.failure(answers.shift() as HttpFailure);
      return { kind: 'json', body: wire.embeddings(call) };
    }
    const answer = answers.shift();
    const stream = isRecord(call.json) && call.json.stream === true;
    if (answer && 'fail' in answer) return failureScenario(answer, call, stream);
    const reply = resolveReply(answer, call.json);
    if (!stream) return { kind: 'json', body: wire.completion(reply) };
    const writes = toWrites(wire.streamEvents(reply, call), { ...options, ...answer });
    return { kind: 'stream', writes };
  };

  /** `POST /v1/responses`: the next answer as a Response object, or its stream. */
  const respondResponses = (call: RecordedCall): Scenario => {
    const answer = answers.shift();
    const stream = isRecord(call.json) && call.json.stream === true;
    const model = isRecord(call.json) ? call.json.model : undefined;
    const asChat = { model, messages: [{ role: 'user', content: lastInputText(call.json) }] };
    if (answer && 'fail' in answer) {
      if (isHttpFailure(answer)) return wire.failure(answer);
      if (answer.fail === 'hang') return { kind: 'hang' };
      if (!stream) return wire.failure({ fail: 'server' });
      const reply = resolveReply({ text: answer.text ?? 'Hello there' }, asChat);
      const first = responseStreamEvents(reply, call.json, undefined, true);
      if (answer.fail === 'stream_error')
        return { kind: 'stream', writes: [...first, responseErrorEvent(first.length)] };
      return { kind: answer.fail === 'stall_after_first_token' ? 'stall' : 'cut', writes: first };
    }
    const reply = resolveReply(answer, asChat);
    if (!stream) return { kind: 'json', body: responseBody(reply, call.json, answer?.thinking) };
    const events = responseStreamEvents(reply, call.json, answer?.thinking);
    return { kind: 'stream', writes: toWrites(events, { ...options, ...answer }) };
  };

  const failureScenario = (failure: FakeFailure, call: RecordedCall, stream: boolean): Scenario => {
    if (isHttpFailure(failure)) return wire.failure(failure);
    if (failure.fail === 'hang') return { kind: 'hang' };
    const json = { 'content-type': 'application/json' };
    const reply = resolveReply({ text: failure.text ?? 'Hello' }, call.json);
    const first = wire.firstEvents(reply, call);
    const writes = (events: string[]) => toWrites(events, options);
    switch (failure.fail) {
      case 'cut_after_first_token':
        return stream
          ? { kind: 'cut', writes: writes(first) }
          : { kind: 'cut', writes: ['{"id":"'], headers: json };
      case 'stall_after_first_token':
        return stream
          ? { kind: 'stall', writes: writes(first) }
          : { kind: 'stall', writes: ['{"id":"'], headers: json };
      case 'stream_error':
        return stream
          ? { kind: 'stream', writes: writes([...first, wire.errorEvent(), wire.doneEvent]) }
          : wire.failure({ fail: 'server' });
      case 'truncated':
        return stream
          ? { kind: 'stream', writes: writes(first) }
          : { kind: 'stream', writes: ['{"id":"chatcmpl-'], headers: json };
    }
  };

  const upstream = await createFakeUpstream(respond);
  return {
    upstream,
    baseUrl: upstream.url + wire.versionPath,
    sdkBaseUrl: wire.sdkBaseUrl(upstream.url),
    next: (...more) => void answers.push(...more),
    close: () => upstream.close(),
  };
}

const httpFailures = new Set([
  'rate_limited',
  'quota',
  'server',
  'overloaded',
  'auth',
  'bad_request',
]);
const isHttpFailure = (failure: FakeFailure): failure is HttpFailure =>
  httpFailures.has(failure.fail);

// ---- OpenAI's wire ----

const created = () => Math.floor(Date.now() / 1000);

export function openaiErrorBody(
  message: string,
  type: string,
  code: string | number | null = null,
  param: string | null = null,
) {
  return { error: { message, type, param, code } };
}

/** A `chat.completion` body (fixture `openai-text.json` in vercel/ai). */
export function openaiCompletion(reply: ResolvedReply): Record<string, unknown> {
  return {
    id: `chatcmpl-${reply.id}`,
    object: 'chat.completion',
    created: created(),
    model: reply.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.text === '' && reply.toolCalls.length > 0 ? null : reply.text,
          refusal: null,
          annotations: [],
          ...(reply.toolCalls.length > 0 && {
            tool_calls: reply.toolCalls.map((call) => ({
              id: call.id,
              type: 'function',
              function: { name: call.name, arguments: call.arguments },
            })),
          }),
        },
        logprobs: null,
        finish_reason: reply.finish,
      },
    ],
    usage: openaiUsage(reply.usage),
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

export function openaiUsage(usage: ResolvedReply['usage']) {
  return {
    prompt_tokens: usage.prompt,
    completion_tokens: usage.completion,
    total_tokens: usage.prompt + usage.completion,
    prompt_tokens_details: { cached_tokens: usage.cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export interface OpenAIChunkOptions {
  /** Add `"usage": null` to every chunk and the usage-only last chunk. */
  includeUsage?: boolean;
  azure?: boolean;
}

/** The chunks of a streamed answer (fixture `openai-text.chunks.txt`), without `[DONE]`. */
export function openaiChunks(reply: ResolvedReply, options: OpenAIChunkOptions = {}): unknown[] {
  const base = {
    id: `chatcmpl-${reply.id}`,
    object: 'chat.completion.chunk',
    created: created(),
    model: reply.model,
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
  const filters = options.azure && { content_filter_results: {} };
  const chunk = (delta: unknown, finish: string | null = null, extra = {}) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...filters }],
    ...(options.includeUsage && { usage: null }),
    ...extra,
  });
  const chunks: unknown[] = [];
  if (options.azure) {
    chunks.push({
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }],
    });
  }
  const content = reply.text === '' && reply.toolCalls.length > 0 ? null : '';
  chunks.push(chunk({ role: 'assistant', content, refusal: null }));
  for (const piece of textPieces(reply.text)) {
    chunks.push(chunk({ content: piece }, null, { obfuscation: 'x'.repeat(piece.length % 7) }));
  }
  reply.toolCalls.forEach((call, index) => {
    const fn = { name: call.name, arguments: '' };
    chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: fn }] }));
    const half = Math.ceil(call.arguments.length / 2);
    for (const part of [call.arguments.slice(0, half), call.arguments.slice(half)]) {
      if (part) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
  });
  chunks.push(chunk({}, reply.finish));
  if (options.includeUsage && !reply.omitUsage) {
    chunks.push({ ...base, choices: [], usage: openaiUsage(reply.usage) });
  }
  return chunks;
}

export const openaiErrors = {
  rateLimited: openaiErrorBody(
    'Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20ms.',
    'requests',
    'rate_limit_exceeded',
  ),
  quota: openaiErrorBody(
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
    'insufficient_quota',
    'insufficient_quota',
  ),
  server: openaiErrorBody(
    'The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if the error persists.',
    'server_error',
  ),
  overloaded: openaiErrorBody(
    'The engine is currently overloaded, please try again later.',
    'server_error',
  ),
  badRequest: openaiErrorBody(
    "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
    'invalid_request_error',
    'unsupported_parameter',
    'max_tokens',
  ),
  noKey: openaiErrorBody(
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (i.e. YOUR_KEY), when using HTTP Basic Auth. You can obtain an API key from https://platform.openai.com/account/api-keys.",
    'invalid_request_error',
  ),
  wrongKey: (key: string) =>
    openaiErrorBody(
      `Incorrect API key provided: ${key.slice(0, 3)}****${key.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      'invalid_request_error',
      'invalid_api_key',
    ),
  inStream: openaiErrorBody(
    'The server had an error while processing your request. Sorry about that!',
    'server_error',
  ),
};

function openaiFailure(failure: HttpFailure): Scenario {
  switch (failure.fail) {
    case 'rate_limited':
      return {
        kind: 'json',
        status: 429,
        body: openaiErrors.rateLimited,
        headers: {
          ...(failure.retryAfterSeconds !== undefined && {
            'retry-after': String(failure.retryAfterSeconds),
          }),
          'x-ratelimit-limit-requests': '3',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '20ms',
          'x-ratelimit-reset-tokens': '120ms',
        },
      };
    case 'quota':
      return { kind: 'json', status: 429, body: openaiErrors.quota };
    case 'server':
      return { kind: 'json', status: 500, body: openaiErrors.server };
    case 'overloaded':
      return { kind: 'json', status: 503, body: openaiErrors.overloaded };
    case 'auth':
      return { kind: 'json', status: 401, body: openaiErrors.wrongKey('sk-fake-wrong-key') };
    case 'bad_request':
      return { kind: 'json', status: 400, body: openaiErrors.badRequest };
  }
}

const includeUsage = (call: RecordedCall): boolean => {
  const streamOptions = isRecord(call.json) ? call.json.stream_options : undefined;
  return isRecord(streamOptions) && streamOptions.include_usage === true;
};

export async function createOpenAIFake(options: OpenAIFakeOptions = {}): Promise<ProviderFake> {
  const chunkOptions = (call: RecordedCall) => ({
    includeUsage: includeUsage(call),
    azure: options.azure ?? false,
  });
  return createChatWireFake(
    {
      versionPath: '/v1',
      sdkBaseUrl: (url) => `${url}/v1`,
      denied: (call) => {
        const key = bearer(call.headers);
        const body = key ? openaiErrors.wrongKey(key) : openaiErrors.noKey;
        return { kind: 'json', status: 401, body };
      },
      notFound: (call) => ({
        kind: 'json',
        status: 404,
        body: openaiErrorBody(`Invalid URL (${call.method} ${call.url})`, 'invalid_request_error'),
      }),
      invalidImage: (message) => ({
        kind: 'json',
        status: 400,
        body: openaiErrorBody(message, 'invalid_request_error', 'invalid_image_url'),
      }),
      completion: openaiCompletion,
      streamEvents: (reply, call) => [
        ...openaiChunks(reply, chunkOptions(call)).map(sseEvent),
        sseEvent('[DONE]'),
      ],
      firstEvents: (reply, call) =>
        openaiChunks(reply, chunkOptions(call))
          .slice(0, options.azure ? 3 : 2)
          .map(sseEvent),
      errorEvent: () => sseEvent(openaiErrors.inStream),
      doneEvent: sseEvent('[DONE]'),
      failure: openaiFailure,
      responses: true,
      embeddings: (call) => {
        const json = isRecord(call.json) ? call.json : {};
        const dimensions = typeof json.dimensions === 'number' ? json.dimensions : undefined;
        const inputs = embeddingInputs(json);
        const tokens = inputs.reduce((sum, text) => sum + countWords(text), 0);
        return {
          object: 'list',
          data: inputs.map((text, index) => {
            const vector = fakeEmbedding(text, dimensions);
            const embedding = json.encoding_format === 'base64' ? float32Base64(vector) : vector;
            return { object: 'embedding', index, embedding };
          }),
          model: typeof json.model === 'string' ? json.model : 'text-embedding-3-small',
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        };
      },
    },
    options,
  );
}
