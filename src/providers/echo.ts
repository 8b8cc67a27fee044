/**
 * The built-in offline provider: answers with the last user message, deterministically,
 * streaming it word by word with `delayMs` between words. It honours maxTokens (counted with
 * the tokenizer) and stop sequences, and answers to any model name. Its counts share one bounded
 * budget a request and let other work run between pieces (see `createTokenCounter`), so a huge
 * prompt costs it linear time and never holds the event loop.
 */
import type { CancelSignal } from '../gateway/cancel.js';
import type {
  ChatRequest,
  ChatResponse,
  ContentPart,
  FinishReason,
  StreamEvent,
} from '../gateway/types.js';
import { createTokenCounter, type TokenCounter } from '../usage/tokens.js';
import type { Provider, ProviderCall } from './types.js';
import { splitWords } from '../gateway/words.js';

export interface EchoOptions {
  name: string;
  models: readonly string[];
  delayMs: number;
  /** False: refuse images rather than describe them. @default true */
  images?: boolean;
}

interface EchoAnswer {
  words: string[];
  finishReason: FinishReason;
}

/** Text parts as they are, each image as `[image]` (echo sees no pixels), joined by newlines. */
function describeParts(parts: readonly ContentPart[]): string {
  return parts.map((part) => (part.type === 'text' ? part.text : '[image]')).join('\n');
}

async function answer(request: ChatRequest, counter: TokenCounter): Promise<EchoAnswer> {
  const lastUser = request.messages.findLast((m) => m.role === 'user');
  let text = lastUser?.parts ? describeParts(lastUser.parts) : (lastUser?.content ?? '');
  let finishReason: FinishReason = 'STOP';
  for (const stop of request.stop ?? []) {
    const at = text.indexOf(stop);
    if (at >= 0) text = text.slice(0, at);
  }
  // A long prompt's passes (splitting, counting) each get a turn of their own, after the
  // gateway's work on the request: nothing waits on all of them at once.
  if (text.length > 64 * 1024) await new Promise(setImmediate);
  // Words keep their leading space, so joining the deltas gives the text back exactly.
  let words = splitWords(text);
  if (text.length > 0 && words.length === 0) words = [text];
  if (request.maxTokens !== undefined) {
    const kept: string[] = [];
    let tokens = 0;
    for (const word of words) {
      tokens += await counter.count(word);
      if (tokens > request.maxTokens) {
        finishReason = 'LENGTH';
        break;
      }
      kept.push(word);
    }
    words = kept;
  }
  return { words, finishReason };
}

async function usageOf(request: ChatRequest, text: string, counter: TokenCounter) {
  const promptTokens = await counter.countPrompt(request.messages, request.tools);
  const completionTokens = await counter.count(text);
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: 0,
    estimated: false,
  };
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function delay(ms: number, signal: CancelSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createEchoProvider(options: EchoOptions): Provider {
  return {
    name: options.name,
    type: 'echo',
    models: options.models,
    images: options.images ?? true,

    async chat({ request, model, signal }: ProviderCall): Promise<ChatResponse> {
      signal.throwIfAborted();
      const counter = createTokenCounter();
      const { words, finishReason } = await answer(request, counter);
      const content = words.join('');
      const usage = await usageOf(request, content, counter);
      return { model, content, toolCalls: [], finishReason, usage };
    },

    async *chatStream({ request, model, signal }: ProviderCall): AsyncGenerator<StreamEvent> {
      const counter = createTokenCounter();
      const { words, finishReason } = await answer(request, counter);
      for (const [i, word] of words.entries()) {
        if (i > 0 && options.delayMs > 0) await delay(options.delayMs, signal);
        signal.throwIfAborted();
        yield { type: 'delta', text: word };
      }
      const content = words.join('');
      yield {
        type: 'finish',
        model,
        finishReason,
        toolCalls: [],
        usage: await usageOf(request, content, counter),
      };
    },

    async close() {},
  };
}
