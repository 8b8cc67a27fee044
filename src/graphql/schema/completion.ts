/** CompletionInput, Completion, CompletionChunk, and the `complete` and `completionStream` fields. */
import { parseToolChoice } from '../../gateway/normalize.js';
import {
  CacheModes,
  FinishReasons,
  type Attempt,
  type ChatMessage,
  type ChatRequest,
  type Completion,
  type CompletionChunk,
  type Role,
  type ToolCall,
  type Usage,
} from '../../gateway/types.js';
import { builder } from '../builder.js';
import { ContentPartInput, toMessageParts } from './content-parts.js';

const RoleEnum = builder.enumType('Role', {
  values: {
    SYSTEM: { value: 'system' },
    USER: { value: 'user' },
    ASSISTANT: { value: 'assistant' },
    TOOL: { value: 'tool' },
  },
});
export const FinishReasonEnum = builder.enumType('FinishReason', { values: FinishReasons });
const CacheModeEnum = builder.enumType('CacheMode', {
  values: CacheModes,
  description:
    'DEFAULT reads and fills the cache; BYPASS neither reads nor fills it; REFRESH fills it without reading.',
});

const ToolCallInput = builder.inputType('ToolCallInput', {
  fields: (t) => ({
    id: t.string({ required: true }),
    name: t.string({ required: true }),
    arguments: t.string({ required: true, description: 'JSON text, as the model wrote it.' }),
  }),
});

const MessageInput = builder.inputType('MessageInput', {
  fields: (t) => ({
    role: t.field({ type: RoleEnum, required: true }),
    content: t.string({
      description: 'Required except on an ASSISTANT message that only calls tools.',
    }),
    toolCalls: t.field({ type: [ToolCallInput] }),
    toolCallId: t.string({ description: 'On a TOOL message: the call it answers.' }),
    parts: t.field({
      type: [ContentPartInput],
      description: 'Text and image parts, in order, instead of content (USER messages).',
    }),
  }),
});

const ToolInput = builder.inputType('ToolInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    parameters: t.field({
      type: 'JSON',
      description: 'The JSON Schema of the arguments: an object, not text.',
    }),
  }),
});

const CacheOptionsInput = builder.inputType('CacheOptionsInput', {
  description:
    "The caches' controls for one request, beside `cache` (which keeps its CacheMode: DEFAULT, BYPASS, REFRESH).",
  fields: (t) => ({
    minSimilarity: t.float({
      description:
        'Raises (never lowers) the similarity a semantic hit needs: above 0, at most 1. A value below the configured threshold changes nothing.',
    }),
    noStore: t.boolean({
      description:
        'Read the caches as usual, but store this answer in neither (exact or semantic).',
    }),
  }),
});

export const CompletionInput = builder.inputType('CompletionInput', {
  fields: (t) => ({
    model: t.string({
      required: true,
      description: 'An alias from the models query, or provider/model.',
    }),
    messages: t.field({ type: [MessageInput], required: true }),
    temperature: t.float(),
    topP: t.float(),
    maxTokens: t.int(),
    stop: t.stringList(),
    tools: t.field({ type: [ToolInput] }),
    toolChoice: t.string({ description: 'auto | none | required | the name of a tool' }),
    user: t.string({ description: 'The end user, for per-user limits and usage.' }),
    cache: t.field({ type: CacheModeEnum }),
    cacheOptions: t.field({ type: CacheOptionsInput }),
  }),
});

type CompletionInputShape = typeof CompletionInput.$inferInput;

/** GraphQL input → ChatRequest (validation is the gateway's). */
export function toChatRequest(input: CompletionInputShape): ChatRequest {
  const messages = input.messages.map((m, i): ChatMessage => ({
    role: m.role as Role,
    ...(m.parts != null
      ? toMessageParts(m.parts, m.content, `messages[${i}]`)
      : { content: m.content ?? null }),
    ...(m.toolCalls && { toolCalls: m.toolCalls }),
    ...(m.toolCallId != null && { toolCallId: m.toolCallId }),
  }));
  const request: ChatRequest = { model: input.model, messages, cache: input.cache ?? 'DEFAULT' };
  if (input.temperature != null) request.temperature = input.temperature;
  if (input.topP != null) request.topP = input.topP;
  if (input.maxTokens != null) request.maxTokens = input.maxTokens;
  if (input.stop != null) request.stop = input.stop;
  if (input.tools != null) {
    request.tools = input.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description != null && { description: tool.description }),
      ...(tool.parameters != null && { parameters: tool.parameters as Record<string, unknown> }),
    }));
  }
  const toolChoice = parseToolChoice(input.toolChoice);
  if (toolChoice) request.toolChoice = toolChoice;
  if (input.user != null) request.user = input.user;
  if (input.cacheOptions != null) {
    const { minSimilarity, noStore } = input.cacheOptions;
    request.cacheOptions = {
      ...(minSimilarity != null && { minSimilarity }),
      ...(noStore != null && { noStore }),
    };
  }
  return request;
}

export const ToolCallRef = builder.objectRef<ToolCall>('ToolCall').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    arguments: t.exposeString('arguments', { description: 'JSON text, as the model wrote it.' }),
  }),
});

const TokenUsageRef = builder.objectRef<Usage>('TokenUsage').implement({
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens', { description: 'Cached prompt tokens included.' }),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.exposeInt('totalTokens'),
    cachedPromptTokens: t.exposeInt('cachedPromptTokens'),
    estimated: t.exposeBoolean('estimated', {
      description: 'True when the provider gave no usage and Conduit counted the tokens.',
    }),
  }),
});

const AttemptRef = builder.objectRef<Attempt>('Attempt').implement({
  description: 'One upstream try.',
  fields: (t) => ({
    provider: t.exposeString('provider'),
    model: t.exposeString('model'),
    status: t.exposeString('status', {
      description: 'ok, or the kind of failure (rate_limited, timeout, …).',
    }),
    error: t.exposeString('error', { nullable: true }),
    latencyMs: t.exposeFloat('latencyMs'),
  }),
});

export const CompletionRef = builder.objectRef<Completion>('Completion').implement({
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Unique per answer; a cache hit gets an id of its own.' }),
    provider: t.exposeString('provider', { description: 'The configured provider that answered.' }),
    model: t.exposeString('model', { description: 'The upstream model that answered.' }),
    content: t.exposeString('content', {
      nullable: true,
      description: 'Null when the answer is only tool calls.',
    }),
    toolCalls: t.field({ type: [ToolCallRef], resolve: (c) => c.toolCalls }),
    finishReason: t.field({ type: FinishReasonEnum, resolve: (c) => c.finishReason }),
    usage: t.field({ type: TokenUsageRef, resolve: (c) => c.usage }),
    costUsd: t.exposeFloat('costUsd'),
    cached: t.exposeBoolean('cached'),
    latencyMs: t.exposeFloat('latencyMs'),
    attempts: t.field({ type: [AttemptRef], resolve: (c) => c.attempts }),
  }),
});

export const CompletionChunkRef = builder.objectRef<CompletionChunk>('CompletionChunk').implement({
  fields: (t) => ({
    id: t.exposeID('id', {
      description: 'The same for every chunk of one stream; unique per stream.',
    }),
    delta: t.exposeString('delta', { description: 'The text this chunk adds ("" when none).' }),
    provider: t.exposeString('provider'),
    model: t.exposeString('model'),
    cached: t.exposeBoolean('cached'),
    done: t.exposeBoolean('done', { description: 'True on the last chunk only.' }),
    finishReason: t.field({
      type: FinishReasonEnum,
      nullable: true,
      resolve: (c) => c.finishReason ?? null,
    }),
    toolCalls: t.field({
      type: [ToolCallRef],
      nullable: true,
      resolve: (c) => c.toolCalls ?? null,
    }),
    usage: t.field({ type: TokenUsageRef, nullable: true, resolve: (c) => c.usage ?? null }),
    costUsd: t.float({ nullable: true, resolve: (c) => c.costUsd ?? null }),
  }),
});

builder.mutationField('complete', (t) =>
  t.field({
    type: CompletionRef,
    args: { input: t.arg({ type: CompletionInput, required: true }) },
    resolve: (_, { input }, { services, caller, signal }) =>
      services.gateway.complete(toChatRequest(input), caller, signal),
  }),
);

builder.subscriptionField('completionStream', (t) =>
  t.field({
    type: CompletionChunkRef,
    args: { input: t.arg({ type: CompletionInput, required: true }) },
    subscribe: async (_, { input }, { services, caller, signal }) =>
      endWithError(await services.gateway.stream(toChatRequest(input), caller, signal)),
    // A failure after the first chunk arrives as a value, so it goes out as a last `next`
    // carrying the error, and the subscription then completes.
    resolve: (chunk) => {
      if (chunk instanceof Error) throw chunk;
      return chunk;
    },
  }),
);

/**
 * Yields the stream's chunks, then its failure (if any) as a value instead of throwing. A plain
 * iterator, not a generator, so return() reaches the gateway's stream at once.
 */
function endWithError(
  stream: AsyncIterable<CompletionChunk>,
): AsyncIterableIterator<CompletionChunk | Error> {
  const inner = stream[Symbol.asyncIterator]();
  let failed = false;
  return {
    async next() {
      if (failed) return { done: true, value: undefined };
      try {
        return await inner.next();
      } catch (error) {
        failed = true;
        return { done: false, value: error instanceof Error ? error : new Error(String(error)) };
      }
    },
    async return() {
      await inner.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
