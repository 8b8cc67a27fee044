/** OpenAI request bodies → ChatRequest / EmbeddingRequest; answers → OpenAI's shapes. */
import { describe, expect, it } from 'vitest';
import type { GatewayError } from '../../src/gateway/errors.js';
import type { Completion } from '../../src/gateway/types.js';
import { mapFinishReason, toChatCompletion } from '../../src/rest/chat.js';
import { toChatCall, toEmbeddingCall } from '../../src/rest/convert.js';
import { float32Base64 } from '../../src/rest/embeddings.js';
import { assertSchema } from '../helpers/openai-schemas.js';

const fieldOf = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return (error as GatewayError).details.field;
  }
  return 'no error';
};

describe('toChatCall', () => {
  it('maps every supported parameter', () => {
    const call = toChatCall(
      {
        model: 'fast',
        messages: [
          { role: 'developer', content: 'be brief' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
            name: 'ann',
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'result' },
        ],
        temperature: 0.5,
        top_p: 0.9,
        max_tokens: 10,
        max_completion_tokens: 20,
        stop: 'END',
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
        tool_choice: { type: 'function', function: { name: 'f' } },
        user: 'u-1',
        stream: true,
        stream_options: { include_usage: true },
        seed: 1,
        n: 1,
        presence_penalty: 0,
      },
      { mode: 'REFRESH' },
    );
    expect(call).toEqual({
      stream: true,
      includeUsage: true,
      request: {
        model: 'fast',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'a\nb' },
          {
            role: 'assistant',
            content: null,
            toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }],
          },
          { role: 'tool', content: 'result', toolCallId: 'c1' },
        ],
        temperature: 0.5,
        topP: 0.9,
        maxTokens: 20,
        stop: ['END'],
        tools: [{ name: 'f', parameters: { type: 'object' } }],
        toolChoice: { name: 'f' },
        user: 'u-1',
        cache: 'REFRESH',
        route: 'chat_completions',
      },
    });
  });

  it('treats null as absent and defaults to no stream and the default cache', () => {
    const call = toChatCall(
      {
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
        temperature: null,
        stop: null,
        stream: null,
      },
      undefined,
    );
    expect(call).toEqual({
      stream: false,
      includeUsage: false,
      request: {
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
        cache: 'DEFAULT',
        route: 'chat_completions',
      },
    });
  });

  it.each([
    [[], 'body'],
    [{ messages: [] }, 'model'],
    [{ model: 'm' }, 'messages'],
    [{ model: 'm', messages: [{ role: 'user', content: 3 }] }, 'messages[0].content'],
    [{ model: 'm', messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    [{ model: 'm', messages: [], temperature: '1' }, 'temperature'],
    [{ model: 'm', messages: [], stop: 4 }, 'stop'],
    [{ model: 'm', messages: [], tools: [{ type: 'custom', custom: {} }] }, 'tools[0].type'],
    [{ model: 'm', messages: [], tool_choice: 'sometimes' }, 'tool_choice'],
    [{ model: 'm', messages: [], n: 3 }, 'n'],
    [{ model: 'm', messages: [], logprobs: true }, 'logprobs'],
    [{ model: 'm', messages: [], response_format: { type: 'json_object' } }, 'response_format'],
    [{ model: 'm', messages: [], frequency_penalty: 1 }, 'frequency_penalty'],
    [{ model: 'm', messages: [], stream: 'yes' }, 'stream'],
  ])('refuses %j naming %s', (body, field) => {
    expect(fieldOf(() => toChatCall(body, undefined))).toBe(field);
  });

  it("takes the cache's mode and the semantic cache's options from the request's headers", () => {
    const body = { model: 'm', messages: [] };
    expect(toChatCall(body, { mode: 'BYPASS' }).request.cache).toBe('BYPASS');
    const { request } = toChatCall(body, {
      mode: 'DEFAULT',
      options: { minSimilarity: 0.97, noStore: true },
    });
    expect(request.cacheOptions).toEqual({ minSimilarity: 0.97, noStore: true });
  });
});

describe('toEmbeddingCall', () => {
  it('takes a string or strings, dimensions, user and the encoding', () => {
    expect(
      toEmbeddingCall({
        model: 'e',
        input: 'a',
        dimensions: 4,
        user: 'u',
        encoding_format: 'base64',
      }),
    ).toEqual({
      request: { model: 'e', input: ['a'], dimensions: 4, user: 'u', route: 'embeddings' },
      base64: true,
    });
    expect(toEmbeddingCall({ model: 'e', input: ['a', 'b'] }).base64).toBe(false);
  });

  it('refuses token arrays and odd encodings', () => {
    expect(fieldOf(() => toEmbeddingCall({ model: 'e', input: [[1, 2]] }))).toBe('input[0]');
    expect(fieldOf(() => toEmbeddingCall({ model: 'e', input: 'a', encoding_format: 'hex' }))).toBe(
      'encoding_format',
    );
    expect(fieldOf(() => toEmbeddingCall({ model: 'e', input: 'a', dimensions: 0 }))).toBe(
      'dimensions',
    );
  });

  it('encodes base64 as little-endian float32', () => {
    const decoded = Buffer.from(float32Base64([0.5, -2]), 'base64');
    expect([decoded.readFloatLE(0), decoded.readFloatLE(4)]).toEqual([0.5, -2]);
  });
});

describe('toChatCompletion', () => {
  const completion: Completion = {
    id: 'req-1',
    provider: 'anthropic',
    model: 'claude-3-5-haiku-20241022',
    content: null,
    toolCalls: [{ id: 't1', name: 'f', arguments: '{"x":1}' }],
    finishReason: 'TOOL_CALLS',
    usage: {
      promptTokens: 5,
      completionTokens: 2,
      totalTokens: 7,
      cachedPromptTokens: 3,
      estimated: false,
    },
    costUsd: 0,
    cached: false,
    latencyMs: 1,
    attempts: [],
  };

  it('answers a valid chat.completion with tool calls and cached tokens', () => {
    const body = toChatCompletion(completion, 1_700_000_000);
    assertSchema('CreateChatCompletionResponse', body);
    expect(body).toMatchObject({
      id: 'chatcmpl-req-1',
      created: 1_700_000_000,
      model: 'claude-3-5-haiku-20241022',
      choices: [
        {
          finish_reason: 'tool_calls',
          message: {
            content: null,
            tool_calls: [
              { id: 't1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
            ],
          },
        },
      ],
      usage: {
        prompt_tokens: 5,
        completion_tokens: 2,
        total_tokens: 7,
        prompt_tokens_details: { cached_tokens: 3 },
      },
    });
  });

  it('maps every finish reason', () => {
    expect(
      ['STOP', 'LENGTH', 'TOOL_CALLS', 'CONTENT_FILTER'].map((r) => mapFinishReason(r as never)),
    ).toEqual(['stop', 'length', 'tool_calls', 'content_filter']);
  });
});
