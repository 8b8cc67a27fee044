/**
 * ChatRequest → Anthropic Messages request body: system prompts lifted to top-level `system`,
 * turns merged so roles alternate, tool calls as `tool_use` blocks and tool results as
 * `tool_result` blocks in a user turn.
 *
 * @see https://docs.claude.com/en/api/messages
 */
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ToolChoice,
  ToolSpec,
} from '../gateway/types.js';
import type { HttpRequestSpec } from './types.js';

/** `max_tokens` is required by the API; sent when the request gives none. */
export const defaultMaxTokens = 4096;

export type AnthropicImageSource =
  { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };

export type AnthropicContentBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: AnthropicImageSource }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string };

export interface AnthropicMessageParam {
  role: 'user' | 'assistant';
  content: string | AnthropicContentBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export type AnthropicToolChoice =
  { type: 'auto' } | { type: 'any' } | { type: 'none' } | { type: 'tool'; name: string };

export interface AnthropicRequestBody {
  model: string;
  max_tokens: number;
  messages: AnthropicMessageParam[];
  system?: string;
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id: string };
  stream?: boolean;
  output_config?: { format: { type: 'json_schema'; schema: Record<string, unknown> } };
}

export function buildAnthropicRequest(
  request: ChatRequest,
  options: { model: string; stream: boolean },
): HttpRequestSpec {
  const system = request.messages
    .filter((message) => message.role === 'system')
    .map((message) => message.content ?? '')
    .filter((text) => text.length > 0);
  const tools = request.tools?.map(convertTool);
  const body: AnthropicRequestBody = {
    model: options.model,
    max_tokens: request.maxTokens ?? defaultMaxTokens,
    messages: convertMessages(request.messages),
    ...(system.length > 0 && { system: system.join('\n\n') }),
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.topP !== undefined && { top_p: request.topP }),
    ...(request.stop !== undefined && request.stop.length > 0 && { stop_sequences: request.stop }),
    ...(tools !== undefined && tools.length > 0 && { tools }),
    ...(tools !== undefined &&
      tools.length > 0 &&
      request.toolChoice !== undefined && { tool_choice: convertToolChoice(request.toolChoice) }),
    ...(request.user !== undefined && { metadata: { user_id: request.user } }),
    ...(request.responseFormat && {
      // Structured outputs; any JSON object is the schema `{type: object}`.
      output_config: {
        format: {
          type: 'json_schema',
          schema:
            request.responseFormat.type === 'json_schema'
              ? request.responseFormat.schema
              : { type: 'object' },
        },
      },
    }),
    ...(options.stream && { stream: true }),
  };
  return { path: '/messages', body };
}

/** Non-system messages → alternating user/assistant turns (the API merges nothing for us). */
export function convertMessages(messages: readonly ChatMessage[]): AnthropicMessageParam[] {
  const turns: { role: 'user' | 'assistant'; blocks: AnthropicContentBlock[] }[] = [];
  for (const message of messages) {
    if (message.role === 'system') continue;
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const blocks = convertBlocks(message);
    if (blocks.length === 0) continue;
    const last = turns.at(-1);
    if (last?.role === role) last.blocks.push(...blocks);
    else turns.push({ role, blocks });
  }
  return turns.map(({ role, blocks }) => ({
    role,
    content: blocks.length === 1 && blocks[0]!.type === 'text' ? blocks[0]!.text : blocks,
  }));
}

function convertBlocks(message: ChatMessage): AnthropicContentBlock[] {
  if (message.role === 'tool') {
    return [
      {
        type: 'tool_result',
        tool_use_id: message.toolCallId ?? '',
        content: message.content ?? '',
      },
    ];
  }
  if (message.parts) return message.parts.flatMap(convertPart);
  // The API rejects empty text blocks.
  const blocks: AnthropicContentBlock[] = message.content
    ? [{ type: 'text', text: message.content }]
    : [];
  if (message.role === 'assistant') {
    for (const call of message.toolCalls ?? []) {
      blocks.push({
        type: 'tool_use',
        id: call.id,
        name: call.name,
        input: parseInput(call.arguments),
      });
    }
  }
  return blocks;
}

/**
 * A content part as an Anthropic block: images as `image` blocks with a base64 or url source.
 * @see https://docs.claude.com/en/docs/build-with-claude/vision
 */
function convertPart(part: ContentPart): AnthropicContentBlock[] {
  if (part.type === 'text') return part.text ? [{ type: 'text', text: part.text }] : [];
  const { source } = part;
  return [
    {
      type: 'image',
      source:
        source.kind === 'url'
          ? { type: 'url', url: source.url }
          : { type: 'base64', media_type: source.mediaType, data: source.data },
    },
  ];
}

/** `tool_use.input` must be an object; arguments that are not a JSON object become `{}`. */
function parseInput(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function convertTool(tool: ToolSpec): AnthropicTool {
  return {
    name: tool.name,
    ...(tool.description !== undefined && { description: tool.description }),
    input_schema: tool.parameters ?? { type: 'object', properties: {} },
  };
}

/** @see https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use#forcing-tool-use */
function convertToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (typeof choice === 'object') return { type: 'tool', name: choice.name };
  switch (choice) {
    case 'auto':
      return { type: 'auto' };
    case 'required':
      return { type: 'any' };
    case 'none':
      return { type: 'none' };
  }
}
