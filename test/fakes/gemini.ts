/**
 * A fake Gemini Developer API: `POST /v1beta/models/{model}:generateContent`,
 * `:streamGenerateContent` (`?alt=sse`: SSE with no terminator, the stream ends when the
 * connection closes; without it: one JSON array), `:embedContent` and `:batchEmbedContents`.
 * Key in `x-goog-api-key` or `?key=`. Errors are google.rpc.Status bodies, as Google sends them
 * (a bad key is a 400 with reason API_KEY_INVALID, no key a 403).
 */
import {
  createFakeUpstream,
  splitWrites,
  type RecordedCall,
  type Scenario,
} from '../helpers/fake-upstream.js';
import type { FakeFailure, FakeReply, ProviderFake } from './types.js';
import { checkGeminiImages } from './images.js';

/** One answer in Gemini's terms, for the builders below. */
export interface GeminiAnswer {
  model: string;
  responseId: string;
  text?: string;
  functionCalls?: { name: string; args: Record<string, unknown> }[];
  /** @default 'STOP' */
  finishReason?: string;
  /** Undefined: no usageMetadata at all. */
  usage?: { prompt: number; completion: number; cached?: number; thoughts?: number };
}

export function geminiUsageMetadata(usage: NonNullable<GeminiAnswer['usage']>) {
  return {
    promptTokenCount: usage.prompt,
    candidatesTokenCount: usage.completion,
    totalTokenCount: usage.prompt + usage.completion + (usage.thoughts ?? 0),
    ...(usage.cached && { cachedContentTokenCount: usage.cached }),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: usage.prompt }],
    ...(usage.thoughts && { thoughtsTokenCount: usage.thoughts }),
  };
}

function candidate(parts: object[], finishReason: string | undefined) {
  // A blocked answer carries no content, only its finishReason.
  const blocked = parts.length === 0 && finishReason !== undefined && finishReason !== 'STOP';
  return {
    ...(!blocked && { content: { parts, role: 'model' } }),
    ...(finishReason && { finishReason }),
    index: 0,
  };
}

const functionCallParts = (answer: GeminiAnswer) =>
  (answer.functionCalls ?? []).map((call) => ({ functionCall: call }));

/** The body of a `generateContent` answer. */
export function geminiResponse(answer: GeminiAnswer): Record<string, unknown> {
  const parts = [...(answer.text ? [{ text: answer.text }] : []), ...functionCallParts(answer)];
  return {
    candidates: [candidate(parts, answer.finishReason ?? 'STOP')],
    ...(answer.usage && { usageMetadata: geminiUsageMetadata(answer.usage) }),
    modelVersion: answer.model,
    responseId: answer.responseId,
  };
}

/**
 * The chunks of a streamed answer: a word or so each, every one a whole response with the
 * usage so far; function calls whole in one chunk; the finishReason alone on the last chunk
 * with an empty text part, as Gemini 3 sends it.
 */
export function geminiStreamChunks(answer: GeminiAnswer): Record<string, unknown>[] {
  const words = answer.text?.match(/\s*\S+\s*/g) ?? (answer.text ? [answer.text] : []);
  const steps: object[][] = words.map((word) => [{ text: word }]);
  if (answer.functionCalls?.length) steps.push(functionCallParts(answer));
  const finishReason = answer.finishReason ?? 'STOP';
  steps.push(finishReason === 'STOP' || finishReason === 'MAX_TOKENS' ? [{ text: '' }] : []);
  return steps.map((parts, i) => {
    const last = i === steps.length - 1;
    const usage = answer.usage && {
      ...answer.usage,
      completion: last
        ? answer.usage.completion
        : Math.floor((answer.usage.completion * (i + 1)) / steps.length),
    };
    return {
      candidates: [candidate(parts, last ? finishReason : undefined)],
      ...(usage && { usageMetadata: geminiUsageMetadata(usage) }),
      modelVersion: answer.model,
      responseId: answer.responseId,
    };
  });
}

/** SSE events as `alt=sse` sends them: `data: <json>` and a blank line, one string each. */
export function geminiSse(chunks: readonly unknown[], options: { crlf?: boolean } = {}): string[] {
  const eol = options.crlf ? '\r\n' : '\n';
  return chunks.map((chunk) => `data: ${JSON.stringify(chunk)}${eol}${eol}`);
}

export function geminiErrorBody(
  code: number,
  status: string,
  message: string,
  details?: unknown[],
): { error: Record<string, unknown> } {
  return { error: { code, message, status, ...(details && { details }) } };
}

const errorInfo = (reason: string) => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: 'googleapis.com',
  metadata: { service: 'generativelanguage.googleapis.com' },
});

export const geminiErrors = {
  apiKeyInvalid: () =>
    geminiErrorBody(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
      errorInfo('API_KEY_INVALID'),
      {
        '@type': 'type.googleapis.com/google.rpc.LocalizedMessage',
        locale: 'en-US',
        message: 'API key not valid. Please pass a valid API key.',
      },
    ]),
  noKey: () =>
    geminiErrorBody(
      403,
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    ),
  rateLimited: (
    retryAfterSeconds?: number,
    quotaId = 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
  ) =>
    geminiErrorBody(
      429,
      'RESOURCE_EXHAUSTED',
      'You exceeded your current quota, please check your plan and billing details.',
      [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId }] },
        ...(retryAfterSeconds !== undefined
          ? [
              {
                '@type': 'type.googleapis.com/google.rpc.RetryInfo',
                retryDelay: `${retryAfterSeconds}s`,
              },
            ]
          : []),
      ],
    ),
  badRequest: () =>
    geminiErrorBody(
      400,
      'INVALID_ARGUMENT',
      '* GenerateContentRequest.contents: contents is not specified\n',
    ),
  notFound: (model: string) =>
    geminiErrorBody(
      404,
      'NOT_FOUND',
      `models/${model} is not found for API version v1beta, or is not supported for generateContent.`,
    ),
  internal: () =>
    geminiErrorBody(
      500,
      'INTERNAL',
      'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
    ),
  unavailable: () =>
    geminiErrorBody(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
  deadlineExceeded: () =>
    geminiErrorBody(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'),
};

const json = (status: number, body: unknown): Scenario => ({ kind: 'json', status, body });

function failureScenario(
  failure: FakeFailure,
  answer: Pick<GeminiAnswer, 'model' | 'responseId'>,
  sse: boolean,
): Scenario {
  const firstWrites = (text = 'Hello') =>
    geminiSse([
      {
        candidates: [candidate([{ text }], undefined)],
        usageMetadata: geminiUsageMetadata({ prompt: 11, completion: 1 }),
        modelVersion: answer.model,
        responseId: answer.responseId,
      },
    ]);
  const jsonHeaders = { 'content-type': 'application/json; charset=UTF-8' };
  switch (failure.fail) {
    case 'rate_limited':
      return json(429, geminiErrors.rateLimited(failure.retryAfterSeconds));
    case 'quota':
      return json(
        429,
        geminiErrors.rateLimited(undefined, 'GenerateRequestsPerDayPerProjectPerModel-FreeTier'),
      );
    case 'server':
      return json(500, geminiErrors.internal());
    case 'overloaded':
      return json(503, geminiErrors.unavailable());
    case 'auth':
      return json(400, geminiErrors.apiKeyInvalid());
    case 'bad_request':
      return json(400, geminiErrors.badRequest());
    case 'hang':
      return { kind: 'hang' };
    case 'cut_after_first_token':
      return sse
        ? { kind: 'cut', writes: firstWrites(failure.text) }
        : { kind: 'cut', writes: ['{"candidates": [{"content": {'], headers: jsonHeaders };
    case 'stall_after_first_token':
      return sse
        ? { kind: 'stall', writes: firstWrites(failure.text) }
        : { kind: 'stall', writes: ['{"candidates": [{"content": {'], headers: jsonHeaders };
    case 'stream_error':
      return sse
        ? {
            kind: 'stream',
            writes: [...firstWrites(failure.text), ...geminiSse([geminiErrors.internal()])],
          }
        : json(500, geminiErrors.internal());
    case 'truncated':
      return sse
        ? { kind: 'stream', writes: firstWrites(failure.text) }
        : { kind: 'stream', writes: ['{"candidates": [{"content": {'], headers: jsonHeaders };
  }
}

const finishReasons = {
  stop: 'STOP',
  length: 'MAX_TOKENS',
  tool_calls: 'STOP',
  content_filter: 'SAFETY',
};

/** The text of the last user turn that has text. */
function lastUserText(body: unknown): string {
  const contents = (body as { contents?: { role?: string; parts?: { text?: string }[] }[] })
    ?.contents;
  const turn = (contents ?? []).findLast((c) => c.role !== 'model' && c.parts?.some((p) => p.text));
  return (turn?.parts ?? []).map((p) => p.text ?? '').join('');
}

function toAnswer(
  reply: FakeReply,
  model: string,
  responseId: string,
  call: RecordedCall,
): GeminiAnswer {
  const text = reply.text ?? (reply.toolCalls ? '' : lastUserText(call.json));
  const words = text.split(/\s+/).filter(Boolean).length;
  const usage = reply.usage ?? { prompt: 11, completion: words };
  return {
    model: reply.model ?? model,
    responseId,
    text,
    functionCalls: reply.toolCalls?.map((c) => ({
      name: c.name,
      args: JSON.parse(c.arguments || '{}'),
    })),
    finishReason: finishReasons[reply.finish ?? 'stop'],
    ...(!reply.omitUsage && { usage }),
  };
}

/** Made-up but stable vectors: a function of the text. */
function embed(text: string, dimensions = 8): { values: number[] } {
  let seed = [...text].reduce((sum, ch) => (sum * 31 + ch.charCodeAt(0)) % 10007, 7);
  const values = Array.from({ length: dimensions }, () => {
    seed = (seed * 7919 + 13) % 10007;
    return Math.round((seed / 10007 - 0.5) * 1e6) / 1e6;
  });
  return { values };
}

interface EmbedRequest {
  content?: { parts?: { text?: string }[] };
  outputDimensionality?: number;
}
const embedOne = (request: EmbedRequest | undefined) =>
  embed(
    (request?.content?.parts ?? []).map((p) => p.text ?? '').join(''),
    request?.outputDimensionality,
  );

const route = /^\/v1beta\/((?:models|tunedModels)\/([^/:]+)):(\w+)$/;

export async function createGeminiFake(options: { keys?: string[] } = {}): Promise<ProviderFake> {
  const answers: (FakeReply | FakeFailure)[] = [];
  const upstream = await createFakeUpstream((call, index) => {
    const url = new URL(call.url, 'http://fake');
    const match = route.exec(url.pathname);
    if (call.method !== 'POST' || !match)
      return json(404, geminiErrorBody(404, 'NOT_FOUND', `${url.pathname} is not found.`));
    const [, , model = '', method] = match;
    const key = call.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? undefined;
    if (options.keys) {
      if (!key) return json(403, geminiErrors.noKey());
      if (typeof key !== 'string' || !options.keys.includes(key))
        return json(400, geminiErrors.apiKeyInvalid());
    }
    const responseId = `fake-${index}-${model}`;
    if (method === 'embedContent' || method === 'batchEmbedContents') {
      if (answers[0] && 'fail' in answers[0])
        return failureScenario(answers.shift() as FakeFailure, { model, responseId }, false);
      if (method === 'embedContent')
        return json(200, { embedding: embedOne(call.json as EmbedRequest) });
      const requests = (call.json as { requests?: EmbedRequest[] })?.requests ?? [];
      return json(200, { embeddings: requests.map(embedOne) });
    }
    if (method !== 'generateContent' && method !== 'streamGenerateContent')
      return json(404, geminiErrors.notFound(model));
    const badImage = checkGeminiImages(call.json);
    if (badImage !== undefined) {
      return json(400, geminiErrorBody(400, 'INVALID_ARGUMENT', badImage));
    }
    const stream = method === 'streamGenerateContent';
    const sse = stream && url.searchParams.get('alt') === 'sse';
    const next = answers.shift() ?? {};
    if ('fail' in next) return failureScenario(next, { model, responseId }, sse);
    const answer = toAnswer(next, model, responseId, call);
    if (!stream) return json(200, geminiResponse(answer));
    // Without alt=sse, Google answers the whole stream as one JSON array.
    if (!sse) return json(200, geminiStreamChunks(answer));
    const events = geminiSse(geminiStreamChunks(answer));
    const writes = next.oneWrite
      ? [events.join('')]
      : next.splitBytes
        ? splitWrites(events.join(''), next.splitBytes)
        : events;
    return { kind: 'stream', writes };
  });
  return {
    upstream,
    baseUrl: `${upstream.url}/v1beta`,
    sdkBaseUrl: upstream.url,
    next: (...replies) => answers.push(...replies),
    close: () => upstream.close(),
  };
}
