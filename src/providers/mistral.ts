/**
 * Mistral La Plateforme. Its chat and embeddings wire is OpenAI's, so the OpenAI translation is
 * reused; what differs is in the dialect: `max_tokens`, no `stream_options` (Mistral refuses it
 * and sends the usage on the finishing chunk unasked), `tool_choice: "any"` for required, tool
 * results named, `output_dimension`, and its own finish reasons. Its error bodies (flat
 * `{"object": "error"}`, `{"message": "Unauthorized"}`, validation details) are read by the
 * same loose error parser.
 *
 * @see https://docs.mistral.ai/api/#tag/chat
 */
import type { FinishReason, ToolChoice } from '../gateway/types.js';
import { createOpenAIAdapter } from './openai.js';
import type { HttpAdapter } from './types.js';

/** @see https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post */
export function mapMistralFinishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'length':
    case 'model_length':
      return 'LENGTH';
    case 'tool_calls':
      return 'TOOL_CALLS';
    // `error` never gets here: the parsers throw on it.
    case 'stop':
    default:
      return 'STOP';
  }
}

/** @see https://docs.mistral.ai/capabilities/function_calling/#tool_choice */
export function mapMistralToolChoice(choice: ToolChoice): unknown {
  if (choice === 'required') return 'any';
  return typeof choice === 'string'
    ? choice
    : { type: 'function', function: { name: choice.name } };
}

export const mistralAdapter: HttpAdapter = createOpenAIAdapter(
  {
    label: 'Mistral',
    maxTokensField: 'max_tokens',
    streamOptions: false,
    mapToolChoice: mapMistralToolChoice,
    mapFinishReason: mapMistralFinishReason,
    toolResultName: true,
    requireToolParameters: true,
    dimensionsField: 'output_dimension',
  },
  'https://api.mistral.ai/v1',
);
