/**
 * ChatRequest → Gemini `generateContent` body, and the paths of the Gemini Developer API.
 * @see https://ai.google.dev/api/generate-content#request-body
 */
import type { ChatMessage, ChatRequest, ContentPart, ToolChoice } from '../gateway/types.js';
import type { EmbeddingCall, HttpRequestSpec } from './types.js';

export interface GeminiPart {
  text?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType: string; fileUri: string };
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  functionResponse?: { name: string; response: Record<string, unknown> };
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/**
 * Gemini 3 rejects a function call in the history without the thought signature it came with.
 * Our ToolCall has nowhere to keep one, so we send the value Google documents for history
 * built elsewhere.
 * @see https://ai.google.dev/gemini-api/docs/thought-signatures
 */
export const skipThoughtSignature = 'skip_thought_signature_validator';

/** `gemini-2.5-flash` → `models/gemini-2.5-flash`; `tunedModels/x` is kept as it is. */
export const modelPath = (model: string): string =>
  model.includes('/') ? model : `models/${model}`;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** A function call's arguments must be an object (a protobuf Struct). */
function toArgs(text: string): Record<string, unknown> {
  const parsed = parseJson(text);
  return parsed.ok && isObject(parsed.value) ? parsed.value : {};
}

/** A function response must be an object: anything else is wrapped as `{ result }`. */
function toFunctionResponse(content: string | null): Record<string, unknown> {
  const parsed = parseJson(content ?? '');
  if (!parsed.ok) return { result: content ?? '' };
  return isObject(parsed.value) ? parsed.value : { result: parsed.value };
}

/** The name of the function a tool message answers: the nearest earlier call with its id. */
function functionNameOf(messages: readonly ChatMessage[], at: number): string {
  const id = messages[at]!.toolCallId;
  for (let i = at - 1; i >= 0; i--) {
    const call = messages[i]!.toolCalls?.find((c) => c.id === id);
    if (call) return call.name;
  }
  return id ?? 'unknown';
}

/** A URL's image type from its file name; Gemini needs one with every file. */
function mediaTypeOf(url: string): string {
  const path = url.split(/[?#]/, 1)[0]!.toLowerCase();
  if (path.endsWith('.png')) return 'image/png';
  if (path.endsWith('.gif')) return 'image/gif';
  if (path.endsWith('.webp')) return 'image/webp';
  return 'image/jpeg';
}

/**
 * A content part as Gemini takes it: bytes as `inlineData`, a URL as `fileData` (Gemini
 * fetches it). Empty text parts are refused by Gemini, so they are left out.
 * @see https://ai.google.dev/gemini-api/docs/image-understanding
 */
function convertPart(part: ContentPart): GeminiPart[] {
  if (part.type === 'text') return part.text ? [{ text: part.text }] : [];
  const { source } = part;
  return [
    source.kind === 'url'
      ? { fileData: { mimeType: mediaTypeOf(source.url), fileUri: source.url } }
      : { inlineData: { mimeType: source.mediaType, data: source.data } },
  ];
}

export function convertMessages(messages: readonly ChatMessage[]): {
  systemInstruction?: { parts: { text: string }[] };
  contents: GeminiContent[];
} {
  const system: { text: string }[] = [];
  const contents: GeminiContent[] = [];
  messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
        if (message.content) system.push({ text: message.content });
        return;
      case 'user':
        if (message.parts) {
          const parts = message.parts.flatMap(convertPart);
          if (parts.length > 0) contents.push({ role: 'user', parts });
          return;
        }
        // Gemini refuses empty text parts.
        if (message.content) contents.push({ role: 'user', parts: [{ text: message.content }] });
        return;
      case 'assistant': {
        const parts: GeminiPart[] = [];
        if (message.content) parts.push({ text: message.content });
        (message.toolCalls ?? []).forEach((call, n) => {
          parts.push({
            functionCall: { name: call.name, args: toArgs(call.arguments) },
            ...(n === 0 && { thoughtSignature: skipThoughtSignature }),
          });
        });
        if (parts.length > 0) contents.push({ role: 'model', parts });
        return;
      }
      case 'tool': {
        const part: GeminiPart = {
          functionResponse: {
            name: functionNameOf(messages, i),
            response: toFunctionResponse(message.content),
          },
        };
        // Answers to parallel calls go together in one user turn.
        const last = contents.at(-1);
        if (last?.role === 'user' && last.parts.every((p) => p.functionResponse)) {
          last.parts.push(part);
        } else {
          contents.push({ role: 'user', parts: [part] });
        }
        return;
      }
    }
  });
  return { ...(system.length > 0 && { systemInstruction: { parts: system } }), contents };
}

/** @see https://ai.google.dev/api/caching#FunctionCallingConfig */
function convertToolChoice(choice: ToolChoice): {
  mode: 'AUTO' | 'NONE' | 'ANY';
  allowedFunctionNames?: string[];
} {
  switch (choice) {
    case 'auto':
      return { mode: 'AUTO' };
    case 'none':
      return { mode: 'NONE' };
    case 'required':
      return { mode: 'ANY' };
    default:
      return { mode: 'ANY', allowedFunctionNames: [choice.name] };
  }
}

export function buildGenerateContentBody(request: ChatRequest): Record<string, unknown> {
  const generationConfig = {
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.topP !== undefined && { topP: request.topP }),
    ...(request.maxTokens !== undefined && { maxOutputTokens: request.maxTokens }),
    ...(request.stop !== undefined && request.stop.length > 0 && { stopSequences: request.stop }),
    ...(request.responseFormat && { responseMimeType: 'application/json' }),
    ...(request.responseFormat?.type === 'json_schema' && {
      responseJsonSchema: request.responseFormat.schema,
    }),
  };
  const tools = request.tools ?? [];
  return {
    ...convertMessages(request.messages),
    ...(tools.length > 0 && {
      tools: [
        {
          functionDeclarations: tools.map((tool) => ({
            name: tool.name,
            ...(tool.description !== undefined && { description: tool.description }),
            // JSON Schema as clients write it (additionalProperties included); `parameters`
            // would take only Google's OpenAPI subset.
            ...(tool.parameters !== undefined && { parametersJsonSchema: tool.parameters }),
          })),
        },
      ],
    }),
    ...(request.toolChoice !== undefined && {
      toolConfig: { functionCallingConfig: convertToolChoice(request.toolChoice) },
    }),
    ...(Object.keys(generationConfig).length > 0 && { generationConfig }),
  };
}

export function chatRequest(
  request: ChatRequest,
  options: { model: string; stream: boolean },
): HttpRequestSpec {
  const method = options.stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
  return {
    path: `/${modelPath(options.model)}:${method}`,
    body: buildGenerateContentBody(request),
  };
}

/**
 * One input → `:embedContent`; several → `:batchEmbedContents`.
 * @see https://ai.google.dev/api/embeddings
 */
export function embeddingRequest(call: EmbeddingCall): HttpRequestSpec {
  const model = modelPath(call.model);
  const one = (text: string) => ({
    model,
    content: { parts: [{ text }] },
    ...(call.dimensions !== undefined && { outputDimensionality: call.dimensions }),
  });
  if (call.input.length === 1) {
    return { path: `/${model}:embedContent`, body: one(call.input[0]!) };
  }
  return { path: `/${model}:batchEmbedContents`, body: { requests: call.input.map(one) } };
}
