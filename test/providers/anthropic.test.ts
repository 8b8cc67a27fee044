import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gateway/types.js';
import { anthropicAdapter } from '../../src/providers/anthropic.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), 'utf8');

const request: ChatRequest = {
  model: 'anthropic/claude-sonnet-4-5',
  messages: [{ role: 'user', content: 'Hi' }],
  cache: 'DEFAULT',
};
const context = { model: 'claude-sonnet-4-5', request };

describe('anthropic adapter: response', () => {
  it('parses a text message', () => {
    expect(anthropicAdapter.parseChatResponse(JSON.parse(fixture('text.json')), context))
      .toMatchInlineSnapshot(`
        {
          "content": "Hello!",
          "finishReason": "STOP",
          "model": "claude-opus-4-7",
          "toolCalls": [],
          "usage": {
            "cachedPromptTokens": 0,
            "completionTokens": 5,
            "estimated": false,
            "promptTokens": 10,
            "totalTokens": 15,
          },
        }
      `);
  });

  it('parses a tool_use message with null content', () => {
    const response = anthropicAdapter.parseChatResponse(
      JSON.parse(fixture('tool-use.json')),
      context,
    );
    expect(response.content).toBeNull();
    expect(response.finishReason).toBe('TOOL_CALLS');
    expect(response.toolCalls).toHaveLength(1);
    expect(JSON.parse(response.toolCalls[0]!.arguments)).toEqual({
      elements: [
        { location: 'San Francisco', temperature: -5, condition: 'snowy' },
        { location: 'London', temperature: 0, condition: 'snowy' },
      ],
    });
    expect(response.usage.promptTokens).toBe(1151);
  });

  it('maps every stop_reason', () => {
    const finish = (stop_reason: string | null) =>
      anthropicAdapter.parseChatResponse(
        { content: [], stop_reason, usage: { input_tokens: 1, output_tokens: 1 } },
        context,
      ).finishReason;
    expect(
      [
        'end_turn',
        'stop_sequence',
        'pause_turn',
        'max_tokens',
        'model_context_window_exceeded',
        'tool_use',
        'refusal',
        'something_new',
        null,
      ].map(finish),
    ).toEqual([
      'STOP',
      'STOP',
      'STOP',
      'LENGTH',
      'LENGTH',
      'TOOL_CALLS',
      'CONTENT_FILTER',
      'STOP',
      'STOP',
    ]);
  });

  it('counts cache reads and writes into promptTokens', () => {
    const { usage } = anthropicAdapter.parseChatResponse(
      {
        content: [{ type: 'text', text: 'ok' }],
        stop_reason: 'end_turn',
        usage: {
          input_tokens: 21,
          cache_creation_input_tokens: 188,
          cache_read_input_tokens: 1800,
          output_tokens: 5,
        },
      },
      context,
    );
    expect(usage).toEqual({
      promptTokens: 2009,
      completionTokens: 5,
      totalTokens: 2014,
      cachedPromptTokens: 1800,
      estimated: false,
    });
  });

  it('estimates usage when the body has none', () => {
    const { usage } = anthropicAdapter.parseChatResponse(
      { content: [{ type: 'text', text: 'Hello there' }], stop_reason: 'end_turn' },
      context,
    );
    expect(usage.estimated).toBe(true);
    expect(usage.completionTokens).toBeGreaterThan(0);
  });

  it('refuses a body that is not a message', () => {
    expect(() => anthropicAdapter.parseChatResponse({ nope: true }, context)).toThrow(
      expect.objectContaining({ kind: 'server' }),
    );
  });
});

describe('anthropic adapter: errors', () => {
  const parse = (status: number, name: string, headers: Record<string, string> = {}) =>
    anthropicAdapter.parseError({ status, headers, body: fixture(name) });

  it.each([
    [400, 'error-400.json', 'bad_request'],
    [401, 'error-401.json', 'auth'],
    [403, 'error-403.json', 'auth'],
    [404, 'error-404.json', 'bad_request'],
    [429, 'error-429.json', 'rate_limited'],
    [429, 'error-429-spend-limit.json', 'quota'],
    [500, 'error-500.json', 'server'],
    [529, 'error-529.json', 'overloaded'],
  ])('maps %i %s to kind %s', (status, name, kind) => {
    const error = parse(status, name);
    expect(error.kind).toBe(kind);
    expect(error.status).toBe(status);
    expect(error.body).toBe(fixture(name));
  });

  it('reads retry-after into retryAfterMs and names the type and request id', () => {
    const error = parse(429, 'error-429.json', { 'retry-after': '7' });
    expect(error.retryAfterMs).toBe(7000);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(
      /^anthropic 429 rate_limit_error: This request would exceed .* \(request req_018EeWyXxfu5pfWkrYcMdjWG\)$/,
    );
  });

  it('reads anthropic-ratelimit-*-reset when retry-after is absent', () => {
    const reset = new Date(Date.now() + 30_000).toISOString();
    const error = parse(429, 'error-429.json', { 'anthropic-ratelimit-tokens-reset': reset });
    expect(error.retryAfterMs).toBeGreaterThan(25_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('makes a spend-limit 429 not retryable', () => {
    const error = parse(429, 'error-429-spend-limit.json', { 'x-should-retry': 'false' });
    expect(error.retryable).toBe(false);
  });

  it('falls back on the status for a body that is not JSON', () => {
    const error = anthropicAdapter.parseError({
      status: 502,
      headers: {},
      body: '<html>Bad Gateway</html>',
    });
    expect(error.kind).toBe('server');
    expect(error.message).toBe('anthropic 502 <html>Bad Gateway</html>');
    expect(anthropicAdapter.parseError({ status: 529, headers: {}, body: '' }).kind).toBe(
      'overloaded',
    );
  });
});
