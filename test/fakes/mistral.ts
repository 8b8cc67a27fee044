/**
 * A fake Mistral La Plateforme: `POST /v1/chat/completions` (JSON or SSE) and
 * `POST /v1/embeddings`, on the OpenAI-family skeleton of ./openai.ts. Where Mistral differs it
 * does as Mistral does: usage on the finishing chunk without being asked, no usage-only chunk,
 * tool calls whole in one delta with no `index` and no `type` (or OpenAI-style fragments with
 * `incrementalToolCalls`), a 422 for `stream_options`, and its own error bodies: flat
 * `{"object": "error", …}`, `{"message": "Unauthorized"}`, `{"detail": …}` and a proxy's text.
 * The SDK's base URL is the host only.
 */
import type { RecordedCall, Scenario } from '../helpers/fake-upstream.js';
import {
  countWords,
  createChatWireFake,
  embeddingInputs,
  fakeEmbedding,
  float32Base64,
  isRecord,
  sseEvent,
  textPieces,
  type HttpFailure,
  type ResolvedReply,
  type WireFakeOptions,
} from './openai.js';
import type { ProviderFake } from './types.js';

export interface MistralFakeOptions extends WireFakeOptions {
  /** Stream tool calls in OpenAI-style fragments (`index`, `type`), as some hosted models do. */
  incrementalToolCalls?: boolean;
}

export function mistralErrorBody(message: unknown, type: string, code: string | null = null) {
  return { object: 'error', message, type, param: null, code };
}

export const mistralErrors = {
  rateLimited: mistralErrorBody('Rate limit exceeded', 'rate_limited', '1300'),
  /** No documented body: a spent monthly limit is a 429 that says so. */
  quota: mistralErrorBody('Monthly usage limit exceeded', 'rate_limited', '1300'),
  server: mistralErrorBody('Internal server error', 'internal_server_error', '1000'),
  /** Mistral's proxy answers an overload in text. */
  overloaded: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  unauthorized: { message: 'Unauthorized', request_id: '0f3c6a2b9d8e4f1a' },
  badRequest: mistralErrorBody('Invalid model: mistral-nope', 'invalid_model', '1500'),
  extraField: (field: string, input: unknown) =>
    mistralErrorBody(
      {
        detail: [
          {
            type: 'extra_forbidden',
            loc: ['body', field],
            msg: 'Extra inputs are not permitted',
            input,
          },
        ],
      },
      'invalid_request_message_error',
    ),
  inStream: mistralErrorBody('Internal server error', 'internal_server_error', '1000'),
};

const created = () => Math.floor(Date.now() / 1000);

function mistralUsage(usage: ResolvedReply['usage']) {
  return {
    prompt_tokens: usage.prompt,
    total_tokens: usage.prompt + usage.completion,
    completion_tokens: usage.completion,
    ...(usage.cached > 0 && { num_cached_tokens: usage.cached }),
  };
}

/** A non-stream body (fixtures `mistral-text.json`, `mistral-tool-call.json` in vercel/ai). */
export function mistralCompletion(reply: ResolvedReply): Record<string, unknown> {
  return {
    id: reply.id.padEnd(32, '0'),
    object: 'chat.completion',
    created: created(),
    model: reply.model,
    usage: mistralUsage(reply.usage),
    choices: [
      {
        index: 0,
        finish_reason: reply.finish,
        message: {
          role: 'assistant',
          tool_calls:
            reply.toolCalls.length > 0
              ? reply.toolCalls.map((call) => ({
                  id: call.id,
                  function: { name: call.name, arguments: call.arguments },
                }))
              : null,
          content: reply.text,
        },
      },
    ],
  };
}

/** The chunks of a stream (`mistral-text.chunks.txt`, `mistral-tool-call.chunks.txt`). */
export function mistralChunks(
  reply: ResolvedReply,
  options: { incrementalToolCalls?: boolean } = {},
): unknown[] {
  const base = {
    id: reply.id.padEnd(32, '0'),
    object: 'chat.completion.chunk',
    created: created(),
    model: reply.model,
  };
  const chunk = (delta: unknown, finish: string | null = null, extra = {}) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...extra,
  });
  const chunks: unknown[] = [chunk({ role: 'assistant', content: '' })];
  for (const piece of textPieces(reply.text)) chunks.push(chunk({ content: piece }));
  const usage = reply.omitUsage ? {} : { usage: mistralUsage(reply.usage) };
  if (reply.toolCalls.length === 0) {
    chunks.push(chunk({ content: '' }, reply.finish, usage));
  } else if (options.incrementalToolCalls) {
    reply.toolCalls.forEach((call, index) => {
      const fn = { name: call.name, arguments: call.arguments.slice(0, 1) };
      chunks.push(chunk({ tool_calls: [{ id: call.id, type: 'function', function: fn, index }] }));
      const rest = { name: '', arguments: call.arguments.slice(1) };
      chunks.push(chunk({ tool_calls: [{ type: 'function', function: rest, index }] }));
    });
    chunks.push(chunk({ content: '' }, reply.finish, usage));
  } else {
    const calls = reply.toolCalls.map((call) => ({
      id: call.id,
      function: { name: call.name, arguments: call.arguments },
    }));
    chunks.push(chunk({ content: null, tool_calls: calls }, reply.finish, usage));
  }
  return chunks;
}

function mistralFailure(failure: HttpFailure): Scenario {
  switch (failure.fail) {
    case 'rate_limited':
      return {
        kind: 'json',
        status: 429,
        body: mistralErrors.rateLimited,
        headers:
          failure.retryAfterSeconds !== undefined
            ? { 'retry-after': String(failure.retryAfterSeconds) }
            : {},
      };
    case 'quota':
      return { kind: 'json', status: 429, body: mistralErrors.quota };
    case 'server':
      return { kind: 'json', status: 500, body: mistralErrors.server };
    case 'overloaded':
      return {
        kind: 'stream',
        status: 503,
        writes: [mistralErrors.overloaded],
        headers: { 'content-type': 'text/plain' },
      };
    case 'auth':
      return { kind: 'json', status: 401, body: mistralErrors.unauthorized };
    case 'bad_request':
      return { kind: 'json', status: 400, body: mistralErrors.badRequest };
  }
}

export async function createMistralFake(options: MistralFakeOptions = {}): Promise<ProviderFake> {
  return createChatWireFake(
    {
      versionPath: '/v1',
      sdkBaseUrl: (url) => url,
      denied: () => ({ kind: 'json', status: 401, body: mistralErrors.unauthorized }),
      refuse: (call: RecordedCall) => {
        const json = isRecord(call.json) ? call.json : {};
        if (!('stream_options' in json)) return undefined;
        const body = mistralErrors.extraField('stream_options', json.stream_options);
        return { kind: 'json', status: 422, body };
      },
      notFound: () => ({ kind: 'json', status: 404, body: { detail: 'Not Found' } }),
      invalidImage: (message) => ({
        kind: 'json',
        status: 400,
        body: mistralErrorBody(message, 'invalid_request_message_error', '3051'),
      }),
      completion: mistralCompletion,
      streamEvents: (reply) => [...mistralChunks(reply, options).map(sseEvent), sseEvent('[DONE]')],
      firstEvents: (reply) => mistralChunks(reply).slice(0, 2).map(sseEvent),
      errorEvent: () => sseEvent(mistralErrors.inStream),
      doneEvent: sseEvent('[DONE]'),
      failure: mistralFailure,
      embeddings: (call) => {
        const json = isRecord(call.json) ? call.json : {};
        const size = typeof json.output_dimension === 'number' ? json.output_dimension : undefined;
        const inputs = embeddingInputs(json);
        const tokens = inputs.reduce((sum, text) => sum + countWords(text), 0);
        return {
          id: `emb${Date.now().toString(16)}`,
          object: 'list',
          data: inputs.map((text, index) => {
            const vector = fakeEmbedding(text, size);
            const embedding = json.encoding_format === 'base64' ? float32Base64(vector) : vector;
            return { object: 'embedding', embedding, index };
          }),
          model: typeof json.model === 'string' ? json.model : 'mistral-embed',
          usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0 },
        };
      },
    },
    options,
  );
}
