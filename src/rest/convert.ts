/**
 * OpenAI's request bodies → the gateway's requests (and the headers every answer carries). Types and shapes are checked here, naming
 * OpenAI's parameter at fault; ranges, tool names and the rest are the gateway's own
 * validation (`gateway/normalize.ts`). Parameters that would change the answer and that we
 * cannot honour are refused, never silently dropped.
 *
 * @see https://platform.openai.com/docs/api-reference/chat/create
 * @see https://platform.openai.com/docs/api-reference/embeddings/create
 */
import { badInput } from '../gateway/errors.js';
import { fromParts, imageFromUrl } from '../gateway/images.js';
import { DEFAULT_CACHE_CONTROLS, type CacheControls } from './cache-headers.js';
import { checkDepth } from '../gateway/normalize.js';
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  EmbeddingRequest,
  ToolCall,
  ToolChoice,
  ToolSpec,
} from '../gateway/types.js';
import {
  isObject,
  wrongType,
  asString,
  requiredString,
  optionalString,
  optionalNumber,
  shown,
} from './json-fields.js';

/** A whole JSON answer, written by the router with one writeHead and one end. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Who answered, whether from the cache, and the request's id: on every `/v1` response. */
export function conduitHeaders(
  provider: string,
  cached: boolean,
  requestId: string,
  /** A semantic hit's similarity: `x-conduit-cache: semantic-hit` with it. */
  similarity?: number,
): Record<string, string> {
  if (similarity !== undefined) {
    return {
      'content-type': 'application/json',
      'x-conduit-provider': provider,
      'x-conduit-cache': 'semantic-hit',
      'x-conduit-cache-similarity': similarity.toFixed(4),
      'x-request-id': requestId,
    };
  }
  return {
    'content-type': 'application/json',
    'x-conduit-provider': provider,
    'x-conduit-cache': cached ? 'HIT' : 'MISS',
    'x-request-id': requestId,
  };
}

/** What the chat route needs besides the ChatRequest. */
export interface ChatCall {
  request: ChatRequest;
  stream: boolean;
  includeUsage: boolean;
}

/**
 * Parameters we cannot honour, each with the test that it asks for something other than the
 * default. (`seed`, `store`, `metadata`, `service_tier`, `parallel_tool_calls`, `prediction`
 * and the like are accepted and ignored: they do not change what the model says.)
 */
const unsupported: readonly [string, (value: unknown) => boolean][] = [
  ['n', (v) => v !== 1],
  ['logprobs', (v) => v !== false],
  ['top_logprobs', (v) => v !== 0],
  ['presence_penalty', (v) => v !== 0],
  ['frequency_penalty', (v) => v !== 0],
  ['logit_bias', (v) => !isObject(v) || Object.keys(v).length > 0],
  ['response_format', (v) => !isObject(v) || v.type !== 'text'],
  ['modalities', (v) => !Array.isArray(v) || v.some((m) => m !== 'text')],
  ['audio', () => true],
  ['web_search_options', () => true],
  ['functions', () => true],
  ['function_call', () => true],
];

/** A parsed `POST /v1/chat/completions` body → ChatRequest. Throws BAD_USER_INPUT. */
export function toChatCall(body: unknown, cache: CacheControls = DEFAULT_CACHE_CONTROLS): ChatCall {
  if (!isObject(body)) throw badInput('body', 'the body must be a JSON object');
  for (const [name, isUnsupported] of unsupported) {
    const value = body[name];
    if (value !== undefined && value !== null && isUnsupported(value)) {
      throw badInput(name, `${name} ${shown(value)} is not supported by this gateway`);
    }
  }
  const request: ChatRequest = {
    model: requiredString(body, 'model'),
    messages: toMessages(body.messages),
    cache: cache.mode,
    route: 'chat_completions',
  };
  if (cache.options) request.cacheOptions = cache.options;
  const temperature = optionalNumber(body, 'temperature');
  if (temperature !== undefined) request.temperature = temperature;
  const topP = optionalNumber(body, 'top_p');
  if (topP !== undefined) request.topP = topP;
  const maxTokens =
    optionalNumber(body, 'max_completion_tokens') ?? optionalNumber(body, 'max_tokens');
  if (maxTokens !== undefined) request.maxTokens = maxTokens;
  const stop = body.stop;
  if (typeof stop === 'string') request.stop = [stop];
  else if (Array.isArray(stop)) request.stop = stop.map((s, i) => asString(s, `stop[${i}]`));
  else if (stop !== undefined && stop !== null) throw wrongType('stop', 'a string or an array');
  if (body.tools !== undefined && body.tools !== null) request.tools = toTools(body.tools);
  if (body.tool_choice !== undefined && body.tool_choice !== null) {
    request.toolChoice = toToolChoice(body.tool_choice);
  }
  const user = optionalString(body, 'user') ?? optionalString(body, 'safety_identifier');
  if (user !== undefined) request.user = user;

  const stream = body.stream ?? false;
  if (stream !== null && typeof stream !== 'boolean') throw wrongType('stream', 'a boolean');
  const options = body.stream_options;
  const includeUsage = isObject(options) && options.include_usage === true;
  return { request, stream: stream === true, includeUsage };
}

/** A parsed `POST /v1/embeddings` body → EmbeddingRequest and the encoding asked. */
export function toEmbeddingCall(body: unknown): {
  request: EmbeddingRequest;
  base64: boolean;
} {
  if (!isObject(body)) throw badInput('body', 'the body must be a JSON object');
  const input = body.input;
  let texts: string[];
  if (typeof input === 'string') texts = [input];
  else if (Array.isArray(input)) {
    texts = input.map((item, i) => {
      if (typeof item !== 'string') {
        throw badInput(`input[${i}]`, 'only text input is supported (not token arrays)');
      }
      return item;
    });
  } else throw wrongType('input', 'a string or an array of strings');
  const request: EmbeddingRequest = {
    model: requiredString(body, 'model'),
    input: texts,
    route: 'embeddings',
  };
  const dimensions = optionalNumber(body, 'dimensions');
  if (dimensions !== undefined) {
    if (!Number.isInteger(dimensions) || dimensions < 1) {
      throw badInput('dimensions', 'dimensions must be a positive integer');
    }
    request.dimensions = dimensions;
  }
  const user = optionalString(body, 'user');
  if (user !== undefined) request.user = user;
  const encoding = body.encoding_format ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64') {
    throw badInput('encoding_format', 'encoding_format is "float" or "base64"');
  }
  return { request, base64: encoding === 'base64' };
}

function toMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value)) throw wrongType('messages', 'an array');
  return value.map((message: unknown, i): ChatMessage => {
    const at = `messages[${i}]`;
    if (!isObject(message)) throw wrongType(at, 'an object');
    const content = message.role === 'user' ? null : toContent(message.content, `${at}.content`);
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content };
      case 'user':
        return Array.isArray(message.content)
          ? { role: 'user', ...toUserParts(message.content, `${at}.content`) }
          : { role: 'user', content: toContent(message.content, `${at}.content`) };
      case 'assistant': {
        const out: ChatMessage = { role: 'assistant', content };
        const calls = message.tool_calls;
        if (Array.isArray(calls) && calls.length > 0) out.toolCalls = toToolCalls(calls, at);
        else if (calls !== undefined && calls !== null && !Array.isArray(calls)) {
          throw wrongType(`${at}.tool_calls`, 'an array');
        }
        return out;
      }
      case 'tool':
        return {
          role: 'tool',
          content,
          toolCallId: requiredString(message, 'tool_call_id', at),
        };
      default:
        throw badInput(
          `${at}.role`,
          `role ${shown(message.role)} is not supported: use system, developer, user, assistant or tool`,
        );
    }
  });
}

/** A string, or an array of text parts (joined by newlines); null or absent stays null. */
function toContent(value: unknown, at: string): string | null {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw wrongType(at, 'a string or an array of content parts');
  let text = '';
  value.forEach((part: unknown, j) => {
    if (!isObject(part)) throw wrongType(`${at}[${j}]`, 'a content part object');
    const piece = part.type === 'text' ? part.text : part.type === 'refusal' ? part.refusal : null;
    if (typeof piece !== 'string') {
      throw badInput(
        `${at}[${j}].type`,
        `content parts of type ${shown(part.type)} are not supported: only text`,
      );
    }
    text = j === 0 ? piece : `${text}\n${piece}`;
  });
  return text;
}

/**
 * A user message's content parts: text and `image_url` (an http(s) URL or a base64 data URL).
 * @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages
 */
function toUserParts(value: unknown[], at: string): Pick<ChatMessage, 'content' | 'parts'> {
  const parts = value.map((part: unknown, j): ContentPart => {
    const here = `${at}[${j}]`;
    if (!isObject(part)) throw wrongType(here, 'a content part object');
    if (part.type === 'text') return { type: 'text', text: requiredString(part, 'text', here) };
    if (part.type === 'image_url') {
      const image = part.image_url;
      const url =
        typeof image === 'string'
          ? image
          : isObject(image)
            ? requiredString(image, 'url', `${here}.image_url`)
            : undefined;
      if (url === undefined) throw wrongType(`${here}.image_url`, 'an object {url}');
      return { type: 'image', source: imageFromUrl(url, `${here}.image_url.url`) };
    }
    throw badInput(
      `${here}.type`,
      `content parts of type ${shown(part.type)} are not supported: only text and image_url`,
    );
  });
  return fromParts(parts);
}

function toToolCalls(calls: unknown[], at: string): ToolCall[] {
  return calls.map((call: unknown, j) => {
    const here = `${at}.tool_calls[${j}]`;
    if (!isObject(call) || call.type !== 'function' || !isObject(call.function)) {
      throw badInput(here, 'a tool call is {id, type: "function", function: {name, arguments}}');
    }
    return {
      id: requiredString(call, 'id', here),
      name: requiredString(call.function, 'name', `${here}.function`),
      arguments: optionalString(call.function, 'arguments', `${here}.function`) ?? '{}',
    };
  });
}

function toTools(value: unknown): ToolSpec[] {
  if (!Array.isArray(value)) throw wrongType('tools', 'an array');
  return value.map((tool: unknown, i) => {
    const at = `tools[${i}]`;
    if (!isObject(tool) || tool.type !== 'function') {
      throw badInput(`${at}.type`, 'only tools of type "function" are supported');
    }
    const fn = tool.function;
    if (!isObject(fn)) throw wrongType(`${at}.function`, 'an object');
    const spec: ToolSpec = { name: requiredString(fn, 'name', `${at}.function`) };
    const description = optionalString(fn, 'description', `${at}.function`);
    if (description !== undefined) spec.description = description;
    if (fn.parameters !== undefined && fn.parameters !== null) {
      if (!isObject(fn.parameters)) throw wrongType(`${at}.function.parameters`, 'an object');
      checkDepth(`${at}.function.parameters`, fn.parameters);
      spec.parameters = fn.parameters;
    }
    return spec;
  });
}

function toToolChoice(value: unknown): ToolChoice {
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (isObject(value) && value.type === 'function' && isObject(value.function)) {
    return { name: requiredString(value.function, 'name', 'tool_choice.function') };
  }
  throw badInput(
    'tool_choice',
    'tool_choice is "auto", "none", "required" or {type: "function", function: {name}}',
  );
}
