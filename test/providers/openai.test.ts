import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { sseMessages } from '../../src/providers/http.js';
import { openaiAdapter, openaiCompatibleAdapter } from '../../src/providers/openai.js';
import type { HttpErrorResponse } from '../../src/providers/types.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/openai/${name}`, import.meta.url), 'utf8');

const request: ChatRequest = {
  model: 'openai/gpt-4.1-nano',
  messages: [{ role: 'user', content: 'Say hello' }],
  cache: 'DEFAULT',
};
const context = { model: 'gpt-4.1-nano', request };

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

async function collect(sse: string, adapter = openaiAdapter): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of adapter.parseChatStream(sseMessages(bytes(sse)), context)) {
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
      toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
    },
    { role: 'tool', toolCallId: 'call_1', content: '{"temp":21}' },
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
  toolChoice: { name: 'get_weather' },
  user: 'u-1',
  cache: 'DEFAULT',
};

describe('openai adapter: requests', () => {
  it('builds the chat body for a rich request, streaming with include_usage', () => {
    const spec = openaiAdapter.chatRequest(rich, { model: 'gpt-4.1-nano', stream: true });
    expect(spec.path).toBe('/chat/completions');
    expect(spec.body).toMatchInlineSnapshot(`
      {
        "max_completion_tokens": 100,
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
                "id": "call_1",
                "type": "function",
              },
            ],
          },
          {
            "content": "{"temp":21}",
            "role": "tool",
            "tool_call_id": "call_1",
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
        "model": "gpt-4.1-nano",
        "stop": [
          "END",
        ],
        "stream": true,
        "stream_options": {
          "include_usage": true,
        },
        "temperature": 0.2,
        "tool_choice": {
          "function": {
            "name": "get_weather",
          },
          "type": "function",
        },
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
            },
            "type": "function",
          },
        ],
        "top_p": 0.9,
      }
    `);
  });

  it('leaves out what is undefined and does not stream unless asked', () => {
    const spec = openaiAdapter.chatRequest(request, { model: 'gpt-4.1-nano', stream: false });
    expect(spec.body).toEqual({
      model: 'gpt-4.1-nano',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
  });

  it('sends max_tokens to openai-compatible servers, and the string tool choices as they are', () => {
    const body = openaiCompatibleAdapter.chatRequest(
      { ...request, maxTokens: 5, toolChoice: 'required' },
      { model: 'llama3', stream: true },
    ).body as Record<string, unknown>;
    expect(body.max_tokens).toBe(5);
    expect(body).not.toHaveProperty('max_completion_tokens');
    expect(body.tool_choice).toBe('required');
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(openaiCompatibleAdapter.defaultBaseUrl).toBeUndefined();
    expect(openaiAdapter.defaultBaseUrl).toBe('https://api.openai.com/v1');
  });

  it('authenticates with Bearer only when a key is given', () => {
    expect(openaiAdapter.authHeaders('sk-1')).toEqual({ authorization: 'Bearer sk-1' });
    expect(openaiCompatibleAdapter.authHeaders(undefined)).toEqual({});
  });

  it('asks for float embeddings with dimensions', () => {
    const call = {
      input: ['a', 'b'],
      model: 'text-embedding-3-small',
      key: 'k',
      signal: new AbortController().signal,
      dimensions: 3,
    };
    expect(openaiAdapter.embeddings!.request(call)).toEqual({
      path: '/embeddings',
      body: {
        model: 'text-embedding-3-small',
        input: ['a', 'b'],
        encoding_format: 'float',
        dimensions: 3,
      },
    });
    const result = openaiAdapter.embeddings!.parse(JSON.parse(fixture('embeddings.json')), call);
    expect(result.embeddings).toHaveLength(2);
    expect(result.embeddings[0]).toEqual([-0.006929283, -0.005336422, 0.024047505]);
    expect(result.usage).toEqual({
      promptTokens: 12,
      completionTokens: 0,
      totalTokens: 12,
      cachedPromptTokens: 0,
      estimated: false,
    });
  });
});

describe('openai adapter: responses', () => {
  it('parses a text completion with cached prompt tokens', () => {
    expect(openaiAdapter.parseChatResponse(JSON.parse(fixture('text.json')), context))
      .toMatchInlineSnapshot(`
      {
        "content": "Hello, world!",
        "finishReason": "STOP",
        "model": "gpt-4.1-nano-2025-04-14",
        "toolCalls": [],
        "usage": {
          "cachedPromptTokens": 4,
          "completionTokens": 6,
          "estimated": false,
          "promptTokens": 14,
          "totalTokens": 20,
        },
      }
    `);
  });

  it('parses a tool-call completion: content null, arguments as JSON text', () => {
    expect(openaiAdapter.parseChatResponse(JSON.parse(fixture('tool-calls.json')), context))
      .toMatchInlineSnapshot(`
      {
        "content": null,
        "finishReason": "TOOL_CALLS",
        "model": "gpt-4.1-nano-2025-04-14",
        "toolCalls": [
          {
            "arguments": "{"city":"Paris"}",
            "id": "call_O17Uplv4lJvD6DVdIvFFeRMw",
            "name": "get_weather",
          },
        ],
        "usage": {
          "cachedPromptTokens": 64,
          "completionTokens": 17,
          "estimated": false,
          "promptTokens": 82,
          "totalTokens": 99,
        },
      }
    `);
  });

  it('estimates the usage of a body without usage', () => {
    const json = JSON.parse(fixture('text.json'));
    delete json.usage;
    const response = openaiAdapter.parseChatResponse(json, context);
    expect(response.usage.estimated).toBe(true);
    expect(response.usage.completionTokens).toBeGreaterThan(0);
  });

  it('throws the error of a 200 body that holds one', () => {
    expect(() =>
      openaiAdapter.parseChatResponse(JSON.parse(fixture('error-500.json')), context),
    ).toThrow(expect.objectContaining({ kind: 'server' }));
  });
});

describe('openai adapter: streams', () => {
  it('yields deltas, then one finish with the usage-only chunk', async () => {
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
          "model": "gpt-4.1-nano-2025-04-14",
          "toolCalls": [],
          "type": "finish",
          "usage": {
            "cachedPromptTokens": 4,
            "completionTokens": 6,
            "estimated": false,
            "promptTokens": 14,
            "totalTokens": 20,
          },
        },
      ]
    `);
  });

  it('assembles tool calls from fragments by index', async () => {
    const events = await collect(fixture('tool-calls.sse'));
    expect(events).toMatchInlineSnapshot(`
      [
        {
          "finishReason": "TOOL_CALLS",
          "model": "gpt-4.1-nano-2025-04-14",
          "toolCalls": [
            {
              "arguments": "{"city":"Paris"}",
              "id": "call_O17Uplv4lJvD6DVdIvFFeRMw",
              "name": "get_weather",
            },
            {
              "arguments": "{"tz":"CET"}",
              "id": "call_yfSmhHHxkKRqJXgTXgKvAaCo",
              "name": "get_time",
            },
          ],
          "type": "finish",
          "usage": {
            "cachedPromptTokens": 0,
            "completionTokens": 40,
            "estimated": false,
            "promptTokens": 82,
            "totalTokens": 122,
          },
        },
      ]
    `);
  });

  it('tolerates Azure: a first chunk without choices, filters, CRLF and a keep-alive comment', async () => {
    const events = await collect(fixture('azure.sse'));
    expect(events.map((e) => (e.type === 'delta' ? e.text : e.model))).toEqual([
      'Hi',
      ' there',
      'gpt-4.1-nano-2025-04-14',
    ]);
    expect(events.at(-1)).toMatchObject({ usage: { promptTokens: 9, completionTokens: 2 } });
  });

  it('counts the usage with the tokenizer when the stream has none', async () => {
    const finish = (await collect(fixture('text-no-usage.sse'))).at(-1);
    expect(finish).toMatchObject({ type: 'finish', finishReason: 'STOP' });
    expect(finish?.type === 'finish' && finish.usage).toMatchObject({
      estimated: true,
      completionTokens: 4, // "Hello, world!" in o200k
    });
  });

  it('throws kind stream when the events end before [DONE]', async () => {
    const error = await streamFailure(fixture('truncated.sse'));
    expect(error.kind).toBe('stream');
    expect(error.retryable).toBe(true);
  });

  it('throws an in-band error as an UpstreamError of its type', async () => {
    const error = await streamFailure(fixture('stream-error.sse'));
    expect(error).toMatchObject({ kind: 'server', retryable: true });
    expect(error.message).toContain('The server had an error');
  });

  it('keeps the numeric code of an early error from a compatible server', async () => {
    const error = await streamFailure(fixture('stream-error-numeric.sse'));
    expect(error).toMatchObject({ kind: 'bad_request', status: 400, retryable: false });
  });
});

describe('openai adapter: errors', () => {
  const parse = (status: number, name: string, headers: HttpErrorResponse['headers'] = {}) =>
    openaiAdapter.parseError({ status, headers, body: fixture(name) });

  it.each([
    [401, 'error-401.json', 'auth'],
    [403, 'error-401.json', 'auth'],
    [400, 'error-400.json', 'bad_request'],
    [404, 'error-vllm-flat.json', 'bad_request'],
    [422, 'error-400.json', 'bad_request'],
    [429, 'error-429-rate-limit.json', 'rate_limited'],
    [429, 'error-429-quota.json', 'quota'],
    [500, 'error-500.json', 'server'],
    [503, 'error-503.json', 'overloaded'],
  ])('maps %i %s to %s', (status, name, kind) => {
    const error = parse(status, name);
    expect(error).toMatchObject({ kind, status });
    expect(error.body).toBe(fixture(name));
  });

  it('never retries a spent quota, though it is a 429', () => {
    expect(parse(429, 'error-429-quota.json').retryable).toBe(false);
  });

  it('reads the delay from retry-after, then x-ratelimit-reset-*', () => {
    expect(parse(429, 'error-429-rate-limit.json', { 'retry-after': '2' }).retryAfterMs).toBe(2000);
    const reset = { 'x-ratelimit-reset-requests': '12ms', 'x-ratelimit-reset-tokens': '6.596s' };
    expect(parse(429, 'error-429-rate-limit.json', reset).retryAfterMs).toBe(6596);
    expect(parse(429, 'error-429-rate-limit.json').retryAfterMs).toBeUndefined();
  });

  it('gives the body message, with no key in it', () => {
    const error = parse(401, 'error-401.json');
    expect(error.message).toMatch(/^OpenAI 401: Incorrect API key provided: sk-\*\*\*/);
    expect(error.message).not.toContain('SJh4');
  });

  it('reads vLLM bodies, wrapped with a numeric code or flat', () => {
    expect(parse(400, 'error-vllm.json').message).toContain('maximum context length is 4096');
    expect(parse(404, 'error-vllm-flat.json').message).toContain('does not exist');
  });

  it('keeps a body that is not JSON as the message', () => {
    const error = openaiAdapter.parseError({
      status: 502,
      headers: {},
      body: '<html>Bad gateway</html>',
    });
    expect(error).toMatchObject({
      kind: 'server',
      status: 502,
      message: 'OpenAI 502: <html>Bad gateway</html>',
    });
  });
});
