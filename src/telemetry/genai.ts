/**
 * OpenTelemetry's GenAI semantic conventions as Conduit fills them: attribute names, the
 * `gen_ai.system` of each provider type, finish reasons, and the content attributes written
 * only with `telemetry.captureContent`.
 *
 * @see https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/
 */
import type { ProviderType } from '../providers/provider-types.js';
import type { ChatMessage, FinishReason } from '../gateway/types.js';

export const GenAI = {
  operation: 'gen_ai.operation.name',
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  maxTokens: 'gen_ai.request.max_tokens',
  temperature: 'gen_ai.request.temperature',
  topP: 'gen_ai.request.top_p',
  responseModel: 'gen_ai.response.model',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
} as const;

/** `gen_ai.system` by provider type (the conventions' well-known values where there is one). */
const systems: Record<ProviderType, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  mistral: 'mistral_ai',
  'openai-compatible': 'openai',
  echo: 'conduit.echo',
};

export const systemOf = (type: ProviderType): string => systems[type] ?? type;

export const finishReasonOf = (reason: FinishReason): string => reason.toLowerCase();

/** `gen_ai.input.messages`: the prompt, text parts only (an image is named, not copied). */
export function inputMessages(messages: readonly ChatMessage[]): string {
  return JSON.stringify(
    messages.map((m) => ({
      role: m.role,
      parts: m.parts
        ? m.parts.map((part) =>
            part.type === 'text' ? { type: 'text', content: part.text } : { type: 'image' },
          )
        : m.content === null
          ? []
          : [{ type: 'text', content: m.content }],
    })),
  );
}

/** `gen_ai.output.messages`: the answer's text. */
export function outputMessages(content: string | null, finishReason?: FinishReason): string {
  return JSON.stringify([
    {
      role: 'assistant',
      parts: content === null ? [] : [{ type: 'text', content }],
      ...(finishReason !== undefined && { finish_reason: finishReasonOf(finishReason) }),
    },
  ]);
}
