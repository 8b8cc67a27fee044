/**
 * ChatRequest → the OpenAI Chat Completions request body (and its dialects).
 *
 * @see https://platform.openai.com/docs/api-reference/chat/create
 */
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ResponseFormat,
  ToolChoice,
} from '../gateway/types.js';
import type { OpenAIDialect } from './openai-wire.js';

export function convertToOpenAIChatBody(
  request: ChatRequest,
  options: { model: string; stream: boolean },
  dialect: OpenAIDialect,
): Record<string, unknown> {
  const tools = request.tools ?? [];
  return {
    model: options.model,
    messages: request.messages.map((message) => convertMessage(message, request.messages, dialect)),
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.topP !== undefined && { top_p: request.topP }),
    ...(request.maxTokens !== undefined && { [dialect.maxTokensField]: request.maxTokens }),
    ...(request.stop !== undefined && request.stop.length > 0 && { stop: request.stop }),
    ...(tools.length > 0 && {
      tools: tools.map((tool) => ({
        type: 'function',
        function: {
          name: tool.name,
          ...(tool.description !== undefined && { description: tool.description }),
          ...(tool.parameters !== undefined
            ? { parameters: tool.parameters }
            : dialect.requireToolParameters && { parameters: { type: 'object', properties: {} } }),
        },
      })),
    }),
    ...(request.toolChoice !== undefined && {
      tool_choice: dialect.mapToolChoice(request.toolChoice),
    }),
    ...(request.responseFormat && {
      response_format: convertResponseFormat(request.responseFormat),
    }),
    ...(options.stream && {
      stream: true,
      ...(dialect.streamOptions && { stream_options: { include_usage: true } }),
    }),
  };
}

/** @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-response_format */
function convertResponseFormat(format: ResponseFormat): Record<string, unknown> {
  if (format.type === 'json_object') return { type: 'json_object' };
  const { type, ...jsonSchema } = format;
  return { type, json_schema: jsonSchema };
}

function convertMessage(
  message: ChatMessage,
  all: readonly ChatMessage[],
  dialect: OpenAIDialect,
): Record<string, unknown> {
  switch (message.role) {
    case 'system':
      return { role: message.role, content: message.content ?? '' };
    case 'user':
      return {
        role: 'user',
        content: message.parts ? message.parts.map(convertPart) : (message.content ?? ''),
      };
    case 'assistant': {
      const calls = message.toolCalls ?? [];
      return {
        role: 'assistant',
        content: message.content ?? (calls.length > 0 ? null : ''),
        ...(calls.length > 0 && {
          tool_calls: calls.map((call) => ({
            id: call.id,
            type: 'function',
            function: { name: call.name, arguments: call.arguments },
          })),
        }),
      };
    }
    case 'tool': {
      const name = dialect.toolResultName ? toolNameOf(message.toolCallId, all) : undefined;
      return {
        role: 'tool',
        tool_call_id: message.toolCallId ?? '',
        ...(name !== undefined && { name }),
        content: message.content ?? '',
      };
    }
  }
}

/**
 * A content part as OpenAI (and Mistral, Ollama, vLLM) take it: an image is an `image_url`,
 * inline bytes as a base64 data URL.
 * @see https://platform.openai.com/docs/guides/images-vision#giving-a-model-images-as-input
 */
function convertPart(part: ContentPart): Record<string, unknown> {
  if (part.type === 'text') return { type: 'text', text: part.text };
  const { source } = part;
  const url = source.kind === 'url' ? source.url : `data:${source.mediaType};base64,${source.data}`;
  return { type: 'image_url', image_url: { url } };
}

/** The name of the tool a result answers, from the assistant turn that called it. */
function toolNameOf(id: string | undefined, messages: readonly ChatMessage[]): string | undefined {
  if (id === undefined) return undefined;
  for (const message of messages) {
    const call = message.toolCalls?.find((c) => c.id === id);
    if (call) return call.name;
  }
  return undefined;
}

/** @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-tool_choice */
export function mapOpenAIToolChoice(choice: ToolChoice): unknown {
  return typeof choice === 'string'
    ? choice
    : { type: 'function', function: { name: choice.name } };
}
