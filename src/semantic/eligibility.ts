/**
 * Which requests the semantic cache may answer: a single question, as asked the first time. An
 * agent's later turns, tool use, images or a prompt longer than the embedder takes whole would
 * make "near in meaning" a wrong answer; they use the exact cache only.
 */
import type { ChatRequest } from '../gateway/types.js';

/** The question, or why the request is not eligible. */
export type Eligibility = { prompt: string; system: string } | { reason: string };

export function eligibilityOf(request: ChatRequest, maxInputChars: number): Eligibility {
  if (request.tools?.length) return { reason: 'tools' };
  const { messages } = request;
  const last = messages.length - 1;
  let system = '';
  for (let i = 0; i < last; i++) {
    const message = messages[i]!;
    if (message.role !== 'system') return { reason: `${message.role} turn` };
    system += `${message.content ?? ''}\u0000`;
  }
  const question = messages[last];
  if (!question || question.role !== 'user') return { reason: 'no user question last' };
  if (question.parts?.some((part) => part.type === 'image')) return { reason: 'image' };
  const prompt = question.content ?? '';
  if (prompt.trim() === '') return { reason: 'empty prompt' };
  if (prompt.length > maxInputChars) return { reason: 'prompt longer than the embedder takes' };
  return { prompt, system };
}
