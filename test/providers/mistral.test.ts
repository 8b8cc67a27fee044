import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { sseMessages } from '../../src/providers/http.js';
import { mistralAdapter } from '../../src/providers/mistral.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/mistral/${name}`, import.meta.url), 'utf8');

const request: ChatRequest = {
  model: 'mistral/mistral-small-latest',
  messages: [{ role: 'user', content: 'Say hello' }],
  cache: 'DEFAULT',
};
const context = { model: 'mistral-small-latest', request };

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

async function collect(sse: string): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of mistralAdapter.parseChatStream(sseMessages(bytes(sse)), context)) {
    events.push(event);
  }
  return events;
}

async function streamFailure(sse: string): Promise<UpstreamError> {
  const error = await collect(sse).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!UpstreamError.isInstance(error)) throw new Error(`expected an UpstreamError, got ${error}`);
  return error;
}

const rich: ChatRequest = {
  model: 'fast',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Weather in Paris?' },
    {
      role: 'assistant',
      content: null,
      toolCalls: [{ id: 'gSIMJiOkT', name: 'get_weather', arguments: '{"city":"Paris"}' }],
    },
    { role: 'tool', toolCallId: 'gSIMJiOkT', content: '{"temp":21}' },
    { role: 'assistant', content: 'It is 21°C.' },
    { role: 'user', content: 'And tomorrow?' },
  ],
  temperature: 0.2,
  topP: 0.9,
  maxTokens: 100,
  stop: ['END'],
  tools: [
    {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
    { name: 'now' },
  ],
  toolChoice: 'required',
  cache: 'DEFAULT',
};

describe('mistral adapter: requests', () => {
  it('builds the chat body: max_tokens, any, named tool results, no stream_options', () => {
    const spec = mistralAdapter.chatRequest(rich, { model: 'mistral-large-latest', stream: true });
    expect(spec.path).toBe('/chat/completions');
    expect(spec.body).toMatchInlineSnapshot(`
      {
        "max_tokens": 100,
        "messages": [
          {
            "content": "You are terse.",
            "role": "system",
          },
          {
            "content": "Weather in Paris?",
            "role": "user",
          },
          {
            "content": null,
            "role": "assistant",
            "tool_calls": [
              {
                "function": {
                  "arguments": "{"city":"Paris"}",
                  "name": "get_weather",
                },
                "id": "gSIMJiOkT",
                "type": "function",
              },
            ],
          },
          {
            "content": "{"temp":21}",
            "name": "get_weather",
            "role": "tool",
            "tool_call_id": "gSIMJiOkT",
          },
          {
            "content": "It is 21°C.",
            "role": "assistant",
          },
          {
            "content": "And tomorrow?",
            "role": "user",
          },
        ],
        "model": "mistral-large-latest",
        "stop": [
          "END",
        ],
        "stream": true,
        "temperature": 0.2,
        "tool_choice": "any",
        "tools": [
          {
            "function": {
              "description": "Weather for a city",
              "name": "get_weather",
              "parameters": {
                "properties": {
                  "city": {
                    "type": "string",
                  },
                },
                "type": "object",
              },
            },
            "type": "function",
          },
          {
            "function": {
              "name": "now",
              "parameters": {
                "properties": {},
                "type": "object",
              },
            },
            "type": "function",
          },
        ],
        "top_p": 0.9,
      }
    `);
  });

  it('forces one tool by name', () => {
    const spec = mistralAdapter.chatRequest(
      { ...request, toolChoice: { name: 'now' } },
      { model: 'm', stream: false },
    );
    expect(spec.body).toMatchObject({
      tool_choice: { type: 'function', function: { name: 'now' } },
    });
    expect(spec.body).not.toHaveProperty('stream');
  });

  it('calls the public API with Bearer auth', () => {
    expect(mistralAdapter.defaultBaseUrl).toBe('https://api.mistral.ai/v1');
    expect(mistralAdapter.authHeaders('k')).toEqual({ authorization: 'Bearer k' });
  });

  it('asks for embeddings with output_dimension and reads them with usage', () => {
    const call = {
      input: ['a', 'b'],
      model: 'mistral-embed',
      key: 'k',
      signal: new AbortController().signal,
      dimensions: 3,
    };
    expect(mistralAdapter.embeddings!.request(call).body).toEqual({
      model: 'mistral-embed',
      input: ['a', 'b'],
      encoding_format: 'float',
      output_dimension: 3,
    });
    const result = mistralAdapter.embeddings!.parse(JSON.parse(fixture('embeddings.json')), call);
    expect(result.embeddings[1]).toEqual([-0.0230712890625, 0.039337158203125, 0.0500488281]);
    expect(result.usage).toMatchObject({ promptTokens: 15, totalTokens: 15, estimated: false });
  });
});

describe('mistral adapter: responses', () => {
  it('parses a text completion', () => {
    expect(
      mistralAdapter.parseChatResponse(JSON.parse(fixture('text.json')), context),
    ).toMatchObject({
      content: 'Hello, world!',
      finishReason: 'STOP',
      usage: { promptTokens: 13, completionTokens: 8, totalTokens: 21, estimated: false },
    });
  });

  it('parses tool calls without a type; empty content becomes null; cached tokens', () => {
    expect(mistralAdapter.parseChatResponse(JSON.parse(fixture('tool-calls.json')), context))
      .toMatchInlineSnapshot(`
      {
        "content": null,
        "finishReason": "TOOL_CALLS",
        "model": "mistral-large-latest",
        "toolCalls": [
          {
            "arguments": "{"city": "Paris"}",
            "id": "gSIMJiOkT",
            "name": "get_weather",
          },
        ],
        "usage": {
          "cachedPromptTokens": 100,
          "completionTokens": 22,
          "estimated": false,
          "promptTokens": 124,
          "totalTokens": 146,
        },
      }
    `);
  });
});

describe('mistral adapter: streams', () => {
  it('takes the usage from the finishing chunk', async () => {
    expect(await collect(fixture('text.sse'))).toMatchInlineSnapshot(`
      [
        {
          "text": "Hello",
          "type": "delta",
        },
        {
          "text": ",",
          "type": "delta",
        },
        {
          "text": " world",
          "type": "delta",
        },
        {
          "text": "!",
          "type": "delta",
        },
        {
          "finishReason": "STOP",
          "model": "mistral-small-latest",
          "toolCalls": [],
          "type": "finish",
          "usage": {
            "cachedPromptTokens": 5,
            "completionTokens": 8,
            "estimated": false,
            "promptTokens": 13,
            "totalTokens": 21,
          },
        },
      ]
    `);
  });

  it('reads tool calls whole in one delta, without index', async () => {
    const events = await collect(fixture('tool-calls.sse'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      finishReason: 'TOOL_CALLS',
      toolCalls: [
        { id: 'gSIMJiOkT', name: 'get_weather', arguments: '{"city": "Paris"}' },
        { id: 'q8LZk3mTs', name: 'get_time', arguments: '{"tz": "CET"}' },
      ],
    });
  });

  it('reads tool calls in OpenAI-style fragments too', async () => {
    const events = await collect(fixture('incremental-tool-call.sse'));
    expect(events.at(-1)).toMatchObject({
      toolCalls: [{ id: '3syMSdTNx', name: 'get_weather', arguments: '{"city": "Paris"}' }],
      usage: { promptTokens: 124, completionTokens: 15 },
    });
  });

  it('counts the usage when the finishing chunk has none', async () => {
    expect((await collect(fixture('text-no-usage.sse'))).at(-1)).toMatchObject({
      usage: { estimated: true, completionTokens: 4 },
    });
  });

  it('throws kind stream when the events end before [DONE]', async () => {
    expect((await streamFailure(fixture('truncated.sse'))).kind).toBe('stream');
  });

  it('throws on finish_reason "error" rather than pass a short answer', async () => {
    expect(await streamFailure(fixture('finish-error.sse'))).toMatchObject({ kind: 'server' });
  });

  it('throws a flat in-band error object', async () => {
    const sse = `data: ${fixture('error-500.json').replace(/\n\s*/g, '')}\n\n`;
    expect(await streamFailure(sse)).toMatchObject({
      kind: 'server',
      message: 'Mistral error: Internal server error',
    });
  });
});

describe('mistral adapter: errors', () => {
  const parse = (status: number, name: string, headers: Record<string, string> = {}) =>
    mistralAdapter.parseError({ status, headers, body: fixture(name) });

  it.each([
    [401, 'error-401.json', 'auth', 'Mistral 401: Unauthorized'],
    [401, 'error-401-detail.json', 'auth', 'Mistral 401: Unauthorized'],
    [400, 'error-400.json', 'bad_request', 'Mistral 400: Invalid model: mistral-nope'],
    [
      422,
      'error-422.json',
      'bad_request',
      'Mistral 422: body.stream_options: Extra inputs are not permitted',
    ],
    [429, 'error-429.json', 'rate_limited', 'Mistral 429: Rate limit exceeded'],
    [429, 'error-429-old.json', 'rate_limited', 'Mistral 429: Requests rate limit exceeded'],
    [500, 'error-500.json', 'server', 'Mistral 500: Internal server error'],
    [503, 'error-503.txt', 'overloaded', expect.stringContaining('Mistral 503: upstream connect')],
  ])('maps %i %s to %s', (status, name, kind, message) => {
    expect(parse(status, name)).toMatchObject({ kind, status, message, body: fixture(name) });
  });

  it('reads retry-after on a 429', () => {
    expect(parse(429, 'error-429.json', { 'retry-after': '3' }).retryAfterMs).toBe(3000);
  });

  it('takes a 429 about a spent usage limit as quota, not retried', () => {
    const error = mistralAdapter.parseError({
      status: 429,
      headers: {},
      body: '{"object":"error","message":"Monthly usage limit exceeded","type":"rate_limited","param":null,"code":"1300"}',
    });
    expect(error).toMatchObject({ kind: 'quota', retryable: false });
  });
});
