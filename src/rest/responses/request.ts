/**
 * A `POST /v1/responses` body → the gateway's ChatRequest and what the answer echoes back.
 * Types and shapes are checked here, naming the Responses parameter at fault; ranges, tool names
 * and the rest are the gateway's own validation. Parameters that would change the answer and
 * that we cannot honour are refused, never silently dropped.
 *
 * @see https://platform.openai.com/docs/api-reference/responses/create
 */
import { badInput } from '../../gateway/errors.js';
import { checkDepth } from '../../gateway/normalize.js';
import type {
  CacheMode,
  CacheOptions,
  ChatMessage,
  ContentPart,
  ImageSource,
  ResponseFormat,
  ToolChoice,
  ToolSpec,
} from '../../gateway/types.js';
import type { Untranslatable } from '../../providers/types.js';
import {
  isObject,
  wrongType,
  requiredString,
  optionalString,
  optionalNumber,
  optionalBoolean,
  shown,
  type Json,
} from '../json-fields.js';
import { DEFAULT_CACHE_CONTROLS, type CacheControls } from '../cache-headers.js';

/** An input item: a message, or a reference to an output item of a stored response. */
export type InputItem = ChatMessage | { reference: string };

/** What the route needs: the request's parts before the stored history is looked up. */
export interface ResponsesCall {
  model: string;
  /** This turn's input, references unresolved. */
  input: InputItem[];
  /** The system message of this turn (never carried to the next). */
  instructions: string | null;
  previousResponseId: string | null;
  store: boolean;
  stream: boolean;
  cache: CacheMode;
  /** The semantic cache's controls, from the request's headers. */
  cacheOptions?: CacheOptions;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  tools?: ToolSpec[];
  toolChoice?: ToolChoice;
  user?: string;
  responseFormat?: ResponseFormat;
  /** What only an OpenAI target may serve (it gets the body as is); translation refuses it. */
  untranslatable: Untranslatable[];
  /** Echoed in the Response object as given. */
  echo: {
    /** `text.format`: `{type: 'text'}` or the JSON format asked. */
    format: Json;
    tools: unknown[];
    toolChoice: unknown;
    metadata: Record<string, string>;
    parallelToolCalls: boolean;
  };
}

/**
 * Parameters we cannot honour, each with the test that it asks for something other than the
 * default. (`metadata`, `parallel_tool_calls`, `truncation`, `service_tier`, `reasoning`,
 * `prompt_cache_key`, `safety_identifier`, `include` and the like are accepted: an OpenAI
 * target gets them as sent, and translation ignores them.) These name state kept at OpenAI,
 * under Conduit's key, that our stored responses do not hold: refused whatever the target.
 */
const unsupported: readonly [string, (value: unknown) => boolean][] = [
  ['background', (v) => v !== false],
  ['conversation', () => true],
  ['prompt', () => true],
];

/** These change the answer and translation cannot carry them: only an OpenAI target may. */
const untranslatable: readonly [string, (value: unknown) => boolean][] = [
  ['top_logprobs', (v) => v !== 0],
  ['max_tool_calls', () => true],
];

const onlyOpenAI = 'unless an OpenAI provider serves the model';

/** A parsed body → ResponsesCall. Throws BAD_USER_INPUT. */
export function toResponsesCall(
  body: unknown,
  cache: CacheControls = DEFAULT_CACHE_CONTROLS,
): ResponsesCall {
  if (!isObject(body)) throw badInput('body', 'the body must be a JSON object');
  for (const [name, isUnsupported] of unsupported) {
    const value = body[name];
    if (value !== undefined && value !== null && isUnsupported(value)) {
      throw badInput(name, `${name} ${shown(value)} is not supported by this gateway`);
    }
  }
  const only: Untranslatable[] = [];
  for (const [name, isUntranslatable] of untranslatable) {
    const value = body[name];
    if (value !== undefined && value !== null && isUntranslatable(value)) {
      only.push({ field: name, message: `${name} ${shown(value)} is not supported ${onlyOpenAI}` });
    }
  }
  const model = requiredString(body, 'model');
  const call: ResponsesCall = {
    model,
    untranslatable: only,
    input: toInput(body.input),
    instructions: optionalString(body, 'instructions') ?? null,
    previousResponseId: optionalString(body, 'previous_response_id') ?? null,
    store: optionalBoolean(body, 'store') ?? true,
    stream: optionalBoolean(body, 'stream') ?? false,
    cache: cache.mode,
    echo: {
      format: { type: 'text' },
      tools: [],
      toolChoice: 'auto',
      metadata: toMetadata(body.metadata),
      parallelToolCalls: optionalBoolean(body, 'parallel_tool_calls') ?? true,
    },
  };
  if (cache.options) call.cacheOptions = cache.options;
  const temperature = optionalNumber(body, 'temperature');
  if (temperature !== undefined) call.temperature = temperature;
  const topP = optionalNumber(body, 'top_p');
  if (topP !== undefined) call.topP = topP;
  const maxTokens = optionalNumber(body, 'max_output_tokens');
  if (maxTokens !== undefined) call.maxTokens = maxTokens;
  if (body.tools !== undefined && body.tools !== null) {
    call.tools = toTools(body.tools, only);
    call.echo.tools = call.tools.map((tool) => ({
      type: 'function',
      name: tool.name,
      description: tool.description ?? null,
      parameters: tool.parameters ?? null,
      strict: (body.tools as Json[]).find((t) => t.name === tool.name)?.strict === true,
    }));
  }
  if (body.tool_choice !== undefined && body.tool_choice !== null) {
    call.toolChoice = toToolChoice(body.tool_choice);
    call.echo.toolChoice =
      typeof call.toolChoice === 'string'
        ? call.toolChoice
        : { type: 'function', name: call.toolChoice.name };
  }
  if (body.text !== undefined && body.text !== null) {
    if (!isObject(body.text)) throw wrongType('text', 'an object');
    const format = toResponseFormat(body.text.format);
    if (format) {
      call.responseFormat = format;
      call.echo.format = format;
    }
  }
  const user = optionalString(body, 'safety_identifier') ?? optionalString(body, 'user');
  if (user !== undefined) call.user = user;
  return call;
}

function toInput(value: unknown): InputItem[] {
  if (typeof value === 'string') return [{ role: 'user', content: value }];
  if (!Array.isArray(value)) throw wrongType('input', 'a string or an array of input items');
  return value.map((item: unknown, i): InputItem => {
    const at = `input[${i}]`;
    if (!isObject(item)) throw wrongType(at, 'an object');
    const type = item.type ?? 'message';
    switch (type) {
      case 'message':
        return toMessage(item, at);
      case 'function_call':
        return {
          role: 'assistant',
          content: null,
          toolCalls: [
            {
              id: requiredString(item, 'call_id', at),
              name: requiredString(item, 'name', at),
              arguments: optionalString(item, 'arguments', at) ?? '{}',
            },
          ],
        };
      case 'function_call_output':
        return {
          role: 'tool',
          content: toText(item.output, `${at}.output`),
          toolCallId: requiredString(item, 'call_id', at),
        };
      case 'item_reference':
        return { reference: requiredString(item, 'id', at) };
      default:
        throw badInput(
          `${at}.type`,
          `input items of type ${shown(type)} are not supported: use message, function_call, function_call_output or item_reference`,
        );
    }
  });
}

function toMessage(item: Json, at: string): ChatMessage {
  const parts = toParts(item.content, `${at}.content`);
  const text = parts.filter((p) => p.type === 'text').map((p) => p.text);
  const message: ChatMessage = { role: 'user', content: text.join('\n') };
  if (parts.some((part) => part.type === 'image')) message.parts = parts;
  switch (item.role) {
    case 'system':
    case 'developer':
      message.role = 'system';
      break;
    case 'user':
      break;
    case 'assistant':
      message.role = 'assistant';
      break;
    default:
      throw badInput(
        `${at}.role`,
        `role ${shown(item.role)} is not supported: use system, developer, user or assistant`,
      );
  }
  if (message.role !== 'user' && message.parts) {
    throw badInput(`${at}.content`, 'only user messages may carry images');
  }
  return message;
}

/** A string, or an array of input_text / output_text / input_image parts. */
function toParts(value: unknown, at: string): ContentPart[] {
  if (typeof value === 'string') return [{ type: 'text', text: value }];
  if (!Array.isArray(value)) throw wrongType(at, 'a string or an array of content parts');
  return value.map((part: unknown, j): ContentPart => {
    const here = `${at}[${j}]`;
    if (!isObject(part)) throw wrongType(here, 'a content part object');
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        return { type: 'text', text: requiredString(part, 'text', here) };
      case 'refusal':
        return { type: 'text', text: requiredString(part, 'refusal', here) };
      case 'input_image': {
        if (part.file_id !== undefined && part.file_id !== null) {
          throw badInput(`${here}.file_id`, 'images by file_id are not supported: use image_url');
        }
        return { type: 'image', source: toImageSource(requiredString(part, 'image_url', here)) };
      }
      default:
        throw badInput(
          `${here}.type`,
          `content parts of type ${shown(part.type)} are not supported: use input_text or input_image`,
        );
    }
  });
}

const dataUrl = /^data:([\w.+-]+\/[\w.+-]+);base64,(.*)$/s;

/** `data:image/png;base64,…` → the bytes inline; any other URL → fetched by the provider. */
export function toImageSource(url: string): ImageSource {
  const match = dataUrl.exec(url);
  if (match) return { kind: 'base64', mediaType: match[1]!, data: match[2]! };
  return { kind: 'url', url };
}

/** A function call's output: a string, or text parts joined. */
function toText(value: unknown, at: string): string {
  if (typeof value === 'string') return value;
  const parts = toParts(value, at);
  if (parts.some((part) => part.type !== 'text')) {
    throw badInput(at, 'a function call output is text only');
  }
  return parts.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

/** Function tools; a built-in one (web search…) is listed in `only`, for an OpenAI target. */
function toTools(value: unknown, only: Untranslatable[]): ToolSpec[] {
  if (!Array.isArray(value)) throw wrongType('tools', 'an array');
  const specs: ToolSpec[] = [];
  value.forEach((tool: unknown, i) => {
    const at = `tools[${i}]`;
    if (!isObject(tool) || typeof tool.type !== 'string') {
      throw badInput(`${at}.type`, 'only tools of type "function" are supported');
    }
    if (tool.type !== 'function') {
      only.push({
        field: `${at}.type`,
        message: `only tools of type "function" are supported, ${onlyOpenAI}`,
      });
      return;
    }
    const spec: ToolSpec = { name: requiredString(tool, 'name', at) };
    const description = optionalString(tool, 'description', at);
    if (description !== undefined) spec.description = description;
    if (tool.parameters !== undefined && tool.parameters !== null) {
      if (!isObject(tool.parameters)) throw wrongType(`${at}.parameters`, 'an object');
      checkDepth(`${at}.parameters`, tool.parameters);
      spec.parameters = tool.parameters;
    }
    specs.push(spec);
  });
  return specs;
}

function toToolChoice(value: unknown): ToolChoice {
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (isObject(value) && value.type === 'function') {
    return { name: requiredString(value, 'name', 'tool_choice') };
  }
  throw badInput(
    'tool_choice',
    'tool_choice is "auto", "none", "required" or {type: "function", name}',
  );
}

/** `text.format`: text (undefined), any JSON object, or JSON matching a schema. */
function toResponseFormat(value: unknown): ResponseFormat | undefined {
  const at = 'text.format';
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw wrongType(at, 'an object');
  switch (value.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      if (!isObject(value.schema)) throw wrongType(`${at}.schema`, 'a JSON Schema object');
      checkDepth(`${at}.schema`, value.schema);
      const format: ResponseFormat = {
        type: 'json_schema',
        name: requiredString(value, 'name', at),
        schema: value.schema,
      };
      const description = optionalString(value, 'description', at);
      if (description !== undefined) format.description = description;
      if (typeof value.strict === 'boolean') format.strict = value.strict;
      return format;
    }
    default:
      throw badInput(`${at}.type`, 'text.format.type is "text", "json_object" or "json_schema"');
  }
}

function toMetadata(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw wrongType('metadata', 'an object of strings');
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw wrongType(`metadata.${key}`, 'a string');
  }
  return value as Record<string, string>;
}
