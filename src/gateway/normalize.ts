/**
 * Step 1: validate a request and bring it to one canonical shape; the canonical form also
 * gives the exact-cache key.
 */
import { hash } from 'node:crypto';
import { badInput } from './errors.js';
import { checkParts } from './images.js';
import {
  Roles,
  type ChatMessage,
  type ChatRequest,
  type ContentPart,
  type ToolChoice,
} from './types.js';

const toolName = /^[a-zA-Z0-9_-]{1,64}$/;
const maxUser = 256;

/**
 * The largest maxTokens taken: GraphQL's Int, and what the providers' APIs hold. Past it (REST's
 * `1e300` is an integer to JavaScript) no upstream would take it.
 */
const maxMaxTokens = 2_147_483_647;

/**
 * The deepest a tool's `parameters` may nest (objects and arrays): far more than any real JSON
 * Schema, far less than what overflows the stack of the code that walks it (the cache key's
 * stable JSON, the providers' JSON.stringify).
 */
export const maxParametersDepth = 64;

/** Throws BAD_USER_INPUT naming the field at fault; returns the request with defaults filled. */
export function normalizeRequest(request: ChatRequest): ChatRequest {
  if (!request.model.trim()) throw badInput('model', 'model must not be empty');
  // `user` keys the per-user rate-limit windows, in memory and in Redis.
  if (request.user !== undefined && request.user.length > maxUser)
    throw badInput('user', `user is at most ${maxUser} characters`);
  if (request.messages.length === 0) throw badInput('messages', 'messages must not be empty');
  request.messages.forEach(checkMessage);
  checkRange('temperature', request.temperature, 0, 2);
  checkRange('topP', request.topP, 0, 1);
  const minSimilarity = request.cacheOptions?.minSimilarity;
  if (minSimilarity !== undefined && !(minSimilarity > 0 && minSimilarity <= 1))
    throw badInput('cacheOptions.minSimilarity', 'minSimilarity must be above 0 and at most 1');
  if (
    request.maxTokens !== undefined &&
    (!Number.isInteger(request.maxTokens) ||
      request.maxTokens < 1 ||
      request.maxTokens > maxMaxTokens)
  ) {
    throw badInput('maxTokens', `maxTokens must be an integer from 1 to ${maxMaxTokens}`);
  }
  if (request.stop?.some((s) => s.length === 0))
    throw badInput('stop', 'stop sequences must not be empty');
  const names = new Set<string>();
  request.tools?.forEach((tool, i) => {
    if (!toolName.test(tool.name)) {
      throw badInput(`tools[${i}].name`, 'a tool name is 1 to 64 letters, digits, _ or -');
    }
    if (names.has(tool.name))
      throw badInput(`tools[${i}].name`, `tool "${tool.name}" is given twice`);
    names.add(tool.name);
    if (
      tool.parameters !== undefined &&
      (typeof tool.parameters !== 'object' || Array.isArray(tool.parameters))
    ) {
      throw badInput(`tools[${i}].parameters`, 'parameters must be a JSON Schema object');
    }
    checkDepth(`tools[${i}].parameters`, tool.parameters);
  });
  checkToolChoice(request.toolChoice, names);
  return request;
}

function checkMessage(message: ChatMessage, i: number): void {
  const field = `messages[${i}]`;
  if (!Roles.includes(message.role))
    throw badInput(`${field}.role`, `unknown role "${message.role}"`);
  if (message.role === 'tool' && !message.toolCallId) {
    throw badInput(`${field}.toolCallId`, 'a TOOL message needs the toolCallId it answers');
  }
  if (message.toolCalls?.length && message.role !== 'assistant') {
    throw badInput(`${field}.toolCalls`, 'only ASSISTANT messages carry toolCalls');
  }
  if (message.content === null && !(message.role === 'assistant' && message.toolCalls?.length)) {
    throw badInput(
      `${field}.content`,
      'content is required (only an ASSISTANT message with toolCalls may omit it)',
    );
  }
  checkParts(message, field);
  message.toolCalls?.forEach((call, j) => {
    if (!call.id) throw badInput(`${field}.toolCalls[${j}].id`, 'a tool call needs an id');
    if (!call.name) throw badInput(`${field}.toolCalls[${j}].name`, 'a tool call needs a name');
  });
}

/** Throws BAD_USER_INPUT when `value` nests objects or arrays deeper than `maxParametersDepth`. */
export function checkDepth(field: string, value: unknown): void {
  if (deeperThan(value, maxParametersDepth)) {
    throw badInput(field, `${field} is nested deeper than ${maxParametersDepth} levels`);
  }
}

/** Whether `value` has objects or arrays nested more than `levels` deep (recursing no deeper). */
function deeperThan(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (levels === 0) return true;
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    if (deeperThan(child, levels - 1)) return true;
  }
  return false;
}

function checkRange(field: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && !(value >= min && value <= max)) {
    throw badInput(field, `${field} must be between ${min} and ${max}`);
  }
}

function checkToolChoice(choice: ToolChoice | undefined, tools: ReadonlySet<string>): void {
  if (choice === undefined || typeof choice === 'string') {
    if (choice === 'required' && tools.size === 0) {
      throw badInput('toolChoice', 'toolChoice "required" needs tools');
    }
    return;
  }
  if (!tools.has(choice.name))
    throw badInput('toolChoice', `toolChoice names no given tool ("${choice.name}")`);
}

/** `auto` | `none` | `required` | a tool's name → ToolChoice. */
export function parseToolChoice(text: string | null | undefined): ToolChoice | undefined {
  if (text === null || text === undefined) return undefined;
  if (text === 'auto' || text === 'none' || text === 'required') return text;
  return { name: text };
}

/**
 * The exact-cache key: SHA-256 of the request's answer-changing parts in a fixed order
 * (model as called, messages, every sampling parameter, tools). Not the user or cache mode.
 */
export function cacheKeyOf(request: ChatRequest): string {
  const parts: unknown[] = [
    request.model,
    request.messages.map((m) => [
      m.role,
      m.content,
      m.toolCalls?.map((c) => [c.id, c.name, c.arguments]) ?? null,
      m.toolCallId ?? null,
      ...(m.parts ? [m.parts.map(partKey)] : []),
    ]),
    request.temperature ?? null,
    request.topP ?? null,
    request.maxTokens ?? null,
    request.stop ?? null,
    request.tools?.map((t) => [t.name, t.description ?? null, stableJson(t.parameters ?? null)]) ??
      null,
    request.toolChoice ?? null,
  ];
  // Only when given, so the keys of text requests stay what they were.
  if (request.responseFormat) parts.push(stableJson(request.responseFormat));
  const canonical = JSON.stringify(parts);
  return hash('sha256', canonical, 'base64url');
}

/** An image part's source in the cache key (text parts are in `content` already). */
const partKey = (part: ContentPart) =>
  part.type === 'text'
    ? 't'
    : part.source.kind === 'url'
      ? ['u', part.source.url]
      : ['b', part.source.mediaType, part.source.data];

/** JSON with object keys sorted, so equal schemas give equal text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
