import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gateway/types.js';
import { anthropicAdapter } from '../../src/providers/anthropic.js';

const request: ChatRequest = {
  model: 'anthropic/claude-sonnet-4-5',
  messages: [{ role: 'user', content: 'Hi' }],
  cache: 'DEFAULT',
};

describe('anthropic adapter: request', () => {
  it('builds the Messages body for a rich request', () => {
    const rich: ChatRequest = {
      model: 'anthropic/claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { role: 'user', content: 'In celsius.' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [
            { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
          ],
        },
        { role: 'tool', toolCallId: 'toolu_1', content: '{"c":21}' },
        { role: 'tool', toolCallId: 'toolu_2', content: '{"c":25}' },
        { role: 'system', content: 'Answer in one line.' },
        { role: 'user', content: 'Well?' },
      ],
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 300,
      stop: ['END'],
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
      toolChoice: 'required',
      user: 'u-42',
      cache: 'DEFAULT',
    };
    const spec = anthropicAdapter.chatRequest(rich, { model: 'claude-sonnet-4-5', stream: true });
    expect(spec.path).toBe('/messages');
    expect(spec.body).toMatchInlineSnapshot(`
      {
        "max_tokens": 300,
        "messages": [
          {
            "content": [
              {
                "text": "Weather in Paris and Rome?",
                "type": "text",
              },
              {
                "text": "In celsius.",
                "type": "text",
              },
            ],
            "role": "user",
          },
          {
            "content": [
              {
                "text": "Checking.",
                "type": "text",
              },
              {
                "id": "toolu_1",
                "input": {
                  "city": "Paris",
                },
                "name": "get_weather",
                "type": "tool_use",
              },
              {
                "id": "toolu_2",
                "input": {
                  "city": "Rome",
                },
                "name": "get_weather",
                "type": "tool_use",
              },
            ],
            "role": "assistant",
          },
          {
            "content": [
              {
                "content": "{"c":21}",
                "tool_use_id": "toolu_1",
                "type": "tool_result",
              },
              {
                "content": "{"c":25}",
                "tool_use_id": "toolu_2",
                "type": "tool_result",
              },
              {
                "text": "Well?",
                "type": "text",
              },
            ],
            "role": "user",
          },
        ],
        "metadata": {
          "user_id": "u-42",
        },
        "model": "claude-sonnet-4-5",
        "stop_sequences": [
          "END",
        ],
        "stream": true,
        "system": "You are terse.

      Answer in one line.",
        "temperature": 0.2,
        "tool_choice": {
          "type": "any",
        },
        "tools": [
          {
            "description": "Current weather",
            "input_schema": {
              "properties": {
                "city": {
                  "type": "string",
                },
              },
              "type": "object",
            },
            "name": "get_weather",
          },
        ],
        "top_p": 0.9,
      }
    `);
  });

  it('sends the default max_tokens and leaves out what is undefined', () => {
    const spec = anthropicAdapter.chatRequest(request, {
      model: 'claude-haiku-4-5',
      stream: false,
    });
    expect(spec.body).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Hi' }],
    });
  });

  it('maps each toolChoice, and sends none without tools', () => {
    const tools = [{ name: 'f' }];
    const choice = (toolChoice: ChatRequest['toolChoice'], withTools = true) =>
      (
        anthropicAdapter.chatRequest(
          { ...request, toolChoice, ...(withTools && { tools }) },
          { model: 'm', stream: false },
        ).body as { tool_choice?: unknown }
      ).tool_choice;
    expect(choice('auto')).toEqual({ type: 'auto' });
    expect(choice('required')).toEqual({ type: 'any' });
    expect(choice('none')).toEqual({ type: 'none' });
    expect(choice({ name: 'f' })).toEqual({ type: 'tool', name: 'f' });
    expect(choice('required', false)).toBeUndefined();
  });

  it('sends the key in x-api-key with anthropic-version 2023-06-01', () => {
    expect(anthropicAdapter.authHeaders('sk-ant-1')).toEqual({
      'x-api-key': 'sk-ant-1',
      'anthropic-version': '2023-06-01',
    });
    expect(anthropicAdapter.defaultBaseUrl).toBe('https://api.anthropic.com/v1');
  });
});
