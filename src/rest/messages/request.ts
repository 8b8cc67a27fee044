/**
 * Anthropic's Messages request body → the gateway's ChatRequest: `system` (a string or text
 * blocks) as a system message, text and image blocks in order, `tool_use` blocks as tool calls
 * and `tool_result` blocks as tool messages. Types and shapes are checked here, naming
 * Anthropic's field at fault; ranges and tool names are the gateway's own validation. What would
 * change the answer and cannot be honoured through translation is refused, never dropped.
 *
 * @see https://docs.claude.com/en/api/messages
 */
import { badInput } from '../../gateway/errors.js';
import { fromParts, imageFromBase64, imageFromUrl } from '../../gateway/images.js';
import { checkDepth } from '../../gateway/normalize.js';
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ToolCall,
  ToolChoice,
  ToolSpec,
} from '../../gateway/types.js';
import type { Untranslatable } from '../../providers/types.js';
import { isObject, wrongType, asString, optionalNumber, shown, type Json } from '../json-fields.js';
import { DEFAULT_CACHE_CONTROLS, type CacheControls } from '../cache-headers.js';

/** What the messages route needs besides the ChatRequest. */
export interface MessagesCall {
  request: ChatRequest;
  stream: boolean;
  /**
   * What translation cannot carry: only an Anthropic target, which gets the body as is, may
   * serve it (the gateway refuses it otherwise).
   */
  untranslatable: Untranslatable[];
}

/**
 * Fields that change the answer and that translation cannot carry, with the test that one asks
 * for more than the default: an Anthropic target gets them as sent, any other refuses them.
 * (`metadata` gives the user; `service_tier`, `thinking`, `context_management` and
 * `cache_control` pass through to an Anthropic target, and are ignored by translation: they
 * change how the model works or bills, not what it is asked.)
 */
const unsupported: readonly [string, (value: unknown) => boolean][] = [
  ['top_k', () => true],
  ['output_config', (v) => isObject(v) && v.format !== undefined && v.format !== null],
  ['output_format', () => true],
  ['mcp_servers', (v) => !Array.isArray(v) || v.length > 0],
  ['container', () => true],
];

/** A parsed `POST /v1/messages` body → ChatRequest. Throws BAD_USER_INPUT. */
export function toMessagesCall(
  body: unknown,
  cache: CacheControls = DEFAULT_CACHE_CONTROLS,
): MessagesCall {
  if (!isObject(body)) throw badInput('body', 'the body must be a JSON object');
  const untranslatable: Untranslatable[] = [];
  for (const [name, isUnsupported] of unsupported) {
    const value = body[name];
    if (value !== undefined && value !== null && isUnsupported(value)) {
      untranslatable.push({ field: name, message: `${name} ${onlyAnthropic}` });
    }
  }
  const request = toPrompt(body, untranslatable);
  request.cache = cache.mode;
  if (cache.options) request.cacheOptions = cache.options;
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined || maxTokens === null) {
    throw badInput('max_tokens', 'max_tokens: Field required');
  }
  if (typeof maxTokens !== 'number' || !Number.isFinite(maxTokens)) {
    throw wrongType('max_tokens', 'an integer');
  }
  request.maxTokens = maxTokens;
  const temperature = optionalNumber(body, 'temperature');
  if (temperature !== undefined) request.temperature = temperature;
  const topP = optionalNumber(body, 'top_p');
  if (topP !== undefined) request.topP = topP;
  const stop = body.stop_sequences;
  if (Array.isArray(stop)) {
    if (stop.length > 0) request.stop = stop.map((s, i) => asString(s, `stop_sequences[${i}]`));
  } else if (stop !== undefined && stop !== null) throw wrongType('stop_sequences', 'an array');
  const metadata = body.metadata;
  if (isObject(metadata) && metadata.user_id !== undefined && metadata.user_id !== null) {
    request.user = asString(metadata.user_id, 'metadata.user_id');
  }
  const stream = body.stream ?? false;
  if (typeof stream !== 'boolean') throw wrongType('stream', 'a boolean');
  return { request, stream, untranslatable };
}

const onlyAnthropic =
  'is not supported by this gateway unless an Anthropic provider serves the model';

/**
 * What `count_tokens` and `messages` share: model, system, messages, tools and tool_choice.
 * Throws BAD_USER_INPUT. Given `untranslatable`, a server tool is listed there (and left out of
 * the request) rather than refused.
 */
export function toPrompt(body: unknown, untranslatable?: Untranslatable[]): ChatRequest {
  if (!isObject(body)) throw badInput('body', 'the body must be a JSON object');
  const messages: ChatMessage[] = [];
  const system = toSystem(body.system);
  if (system !== null) messages.push({ role: 'system', content: system });
  const turns = body.messages;
  if (!Array.isArray(turns)) throw wrongType('messages', 'an array');
  turns.forEach((turn: unknown, i) => messages.push(...toMessages(turn, `messages[${i}]`)));
  const request: ChatRequest = {
    model: requiredString(body, 'model'),
    messages,
    cache: 'DEFAULT',
    route: 'messages',
  };
  if (body.tools !== undefined && body.tools !== null) {
    const tools = toTools(body.tools, untranslatable);
    if (tools.length > 0) request.tools = tools;
  }
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== null) {
    const toolChoice = toToolChoice(choice);
    // `none` with no tools asks for what no tools gives anyway.
    if (toolChoice !== 'none' || request.tools) request.toolChoice = toolChoice;
  }
  return request;
}

/** `system`: a string or text blocks (joined by blank lines); null when absent or empty. */
function toSystem(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value === '' ? null : value;
  if (!Array.isArray(value)) throw wrongType('system', 'a string or an array of text blocks');
  const texts = value.map((block: unknown, i) => {
    const at = `system[${i}]`;
    if (!isObject(block) || block.type !== 'text') throw badInput(at, `${at} must be a text block`);
    return requiredString(block, 'text', at);
  });
  return texts.length === 0 ? null : texts.join('\n\n');
}

/** One turn → the gateway's messages: a user turn's tool results become tool messages. */
function toMessages(turn: unknown, at: string): ChatMessage[] {
  if (!isObject(turn)) throw wrongType(at, 'an object');
  const content = turn.content;
  const role = turn.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system') {
    throw badInput(`${at}.role`, `role ${shown(role)} is not supported: use user or assistant`);
  }
  if (typeof content === 'string') return [{ role, content }];
  if (!Array.isArray(content)) throw wrongType(`${at}.content`, 'a string or an array of blocks');
  const blocks = content.map((block: unknown, j) => {
    if (!isObject(block)) throw wrongType(`${at}.content[${j}]`, 'a content block');
    return block;
  });
  if (role === 'assistant') return [toAssistant(blocks, `${at}.content`)];
  if (role === 'system') return [{ role: 'system', content: textOf(blocks, `${at}.content`) }];
  return toUser(blocks, `${at}.content`);
}

function toAssistant(blocks: Json[], at: string): ChatMessage {
  let text: string | null = null;
  const toolCalls: ToolCall[] = [];
  blocks.forEach((block, j) => {
    const here = `${at}[${j}]`;
    switch (block.type) {
      case 'text': {
        const piece = requiredString(block, 'text', here);
        text = text === null ? piece : text + piece;
        return;
      }
      case 'tool_use': {
        const input = block.input ?? {};
        if (!isObject(input)) throw wrongType(`${here}.input`, 'an object');
        checkDepth(`${here}.input`, input);
        toolCalls.push({
          id: requiredString(block, 'id', here),
          name: requiredString(block, 'name', here),
          arguments: JSON.stringify(input),
        });
        return;
      }
      // A model's earlier thinking is its own; the next answer does not need it.
      case 'thinking':
      case 'redacted_thinking':
        return;
      default:
        throw badInput(
          `${here}.type`,
          `assistant blocks of type ${shown(block.type)} are not supported`,
        );
    }
  });
  const message: ChatMessage = { role: 'assistant', content: text };
  if (toolCalls.length > 0) message.toolCalls = toolCalls;
  else if (text === null) message.content = '';
  return message;
}

/** A user turn: tool results first (as tool messages), then text and images as one message. */
function toUser(blocks: Json[], at: string): ChatMessage[] {
  const results: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  blocks.forEach((block, j) => {
    const here = `${at}[${j}]`;
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: requiredString(block, 'text', here) });
        return;
      case 'image':
        parts.push({ type: 'image', source: toImageSource(block.source, `${here}.source`) });
        return;
      case 'tool_result': {
        const content = block.content;
        let text = '';
        if (typeof content === 'string') text = content;
        else if (Array.isArray(content)) {
          // Images a tool returned (a screenshot, a file read) follow the results as user parts.
          const texts: Json[] = [];
          content.forEach((c: unknown, k) => {
            if (isObject(c) && c.type === 'image') {
              parts.push({
                type: 'image',
                source: toImageSource(c.source, `${here}.content[${k}].source`),
              });
            } else texts.push(isObject(c) ? c : {});
          });
          text = textOf(texts, `${here}.content`);
        } else if (content !== undefined && content !== null) {
          throw wrongType(`${here}.content`, 'a string or an array of text and image blocks');
        }
        // The gateway's tool messages have no error flag: the model reads it in the text.
        if (block.is_error === true) text = text === '' ? 'Error' : `Error: ${text}`;
        results.push({
          role: 'tool',
          content: text,
          toolCallId: requiredString(block, 'tool_use_id', here),
        });
        return;
      }
      default:
        throw badInput(
          `${here}.type`,
          `user blocks of type ${shown(block.type)} are not supported: use text, image or tool_result`,
        );
    }
  });
  if (parts.length === 0) return results.length > 0 ? results : [{ role: 'user', content: '' }];
  return [...results, { role: 'user', ...fromParts(parts) }];
}

/** Text blocks → their text, concatenated. */
function textOf(blocks: Json[], at: string): string {
  return blocks
    .map((block, j) => {
      const here = `${at}[${j}]`;
      if (block.type !== 'text') throw badInput(`${here}.type`, `${here} must be a text block`);
      return requiredString(block, 'text', here);
    })
    .join('');
}

/** `{type: 'base64', media_type, data}` or `{type: 'url', url}`. */
function toImageSource(source: unknown, at: string) {
  if (!isObject(source)) throw wrongType(at, 'an object');
  if (source.type === 'base64') {
    return imageFromBase64(
      requiredString(source, 'data', at),
      requiredString(source, 'media_type', at),
      `${at}.data`,
    );
  }
  if (source.type === 'url') return imageFromUrl(requiredString(source, 'url', at), `${at}.url`);
  throw badInput(
    `${at}.type`,
    'an image source is {type: "base64", media_type, data} or {type: "url", url}',
  );
}

function toTools(value: unknown, untranslatable?: Untranslatable[]): ToolSpec[] {
  if (!Array.isArray(value)) throw wrongType('tools', 'an array');
  const specs: ToolSpec[] = [];
  value.forEach((tool: unknown, i) => {
    const at = `tools[${i}]`;
    if (!isObject(tool)) throw wrongType(at, 'an object');
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      const message = `server tools (${shown(tool.type)}) are not supported: only custom tools`;
      if (!untranslatable) throw badInput(`${at}.type`, message);
      untranslatable.push({
        field: `${at}.type`,
        message: `${message}, unless an Anthropic provider serves the model`,
      });
      return;
    }
    const spec: ToolSpec = { name: requiredString(tool, 'name', at) };
    const description = tool.description;
    if (description !== undefined && description !== null) {
      spec.description = asString(description, `${at}.description`);
    }
    const schema = tool.input_schema;
    if (!isObject(schema)) throw wrongType(`${at}.input_schema`, 'a JSON Schema object');
    checkDepth(`${at}.input_schema`, schema);
    spec.parameters = schema;
    specs.push(spec);
  });
  return specs;
}

/** @see https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use#forcing-tool-use */
function toToolChoice(value: unknown): ToolChoice {
  if (isObject(value)) {
    switch (value.type) {
      case 'auto':
        return 'auto';
      case 'any':
        return 'required';
      case 'none':
        return 'none';
      case 'tool':
        return { name: requiredString(value, 'name', 'tool_choice') };
    }
  }
  throw badInput(
    'tool_choice',
    'tool_choice is {type: "auto" | "any" | "none"} or {type: "tool", name}',
  );
}

function requiredString(object: Json, key: string, at?: string): string {
  const value = object[key];
  const name = at ? `${at}.${key}` : key;
  if (value === undefined || value === null) throw badInput(name, `${name}: Field required`);
  return asString(value, name);
}
