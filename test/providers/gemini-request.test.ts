import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/gateway/types.js';
import { geminiAdapter } from '../../src/providers/gemini.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/gemini/${name}`, import.meta.url), 'utf8');

const request: ChatRequest = {
  model: 'gemini/gemini-3-pro-preview',
  messages: [{ role: 'user', content: 'How many r are in strawberry?' }],
  cache: 'DEFAULT',
};

describe('gemini authHeaders', () => {
  it('sends the key in x-goog-api-key', () => {
    expect(geminiAdapter.authHeaders('k-1')).toEqual({ 'x-goog-api-key': 'k-1' });
    expect(geminiAdapter.authHeaders(undefined)).toEqual({});
    expect(geminiAdapter.defaultBaseUrl).toBe('https://generativelanguage.googleapis.com/v1beta');
  });
});

describe('gemini chatRequest', () => {
  it('maps every field of a rich request onto the generateContent body', () => {
    const rich: ChatRequest = {
      model: 'gemini/gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [
            { id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
            { id: 'call_b', name: 'forecast', arguments: '{"city":"Rome","days":2}' },
          ],
        },
        { role: 'tool', toolCallId: 'call_a', content: '{"celsius":21}' },
        { role: 'tool', toolCallId: 'call_b', content: '[1,2]' },
        { role: 'user', content: 'Thanks. And tomorrow?' },
      ],
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 256,
      stop: ['END'],
      tools: [
        {
          name: 'weather',
          description: 'Current weather',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
            additionalProperties: false,
          },
        },
        { name: 'forecast' },
      ],
      toolChoice: { name: 'weather' },
      cache: 'DEFAULT',
    };
    const spec = geminiAdapter.chatRequest(rich, { model: 'gemini-2.5-flash', stream: false });
    expect(spec.path).toBe('/models/gemini-2.5-flash:generateContent');
    expect(spec.body).toMatchInlineSnapshot(`
      {
        "contents": [
          {
            "parts": [
              {
                "text": "Weather in Paris and Rome?",
              },
            ],
            "role": "user",
          },
          {
            "parts": [
              {
                "text": "Checking.",
              },
              {
                "functionCall": {
                  "args": {
                    "city": "Paris",
                  },
                  "name": "weather",
                },
                "thoughtSignature": "skip_thought_signature_validator",
              },
              {
                "functionCall": {
                  "args": {
                    "city": "Rome",
                    "days": 2,
                  },
                  "name": "forecast",
                },
              },
            ],
            "role": "model",
          },
          {
            "parts": [
              {
                "functionResponse": {
                  "name": "weather",
                  "response": {
                    "celsius": 21,
                  },
                },
              },
              {
                "functionResponse": {
                  "name": "forecast",
                  "response": {
                    "result": [
                      1,
                      2,
                    ],
                  },
                },
              },
            ],
            "role": "user",
          },
          {
            "parts": [
              {
                "text": "Thanks. And tomorrow?",
              },
            ],
            "role": "user",
          },
        ],
        "generationConfig": {
          "maxOutputTokens": 256,
          "stopSequences": [
            "END",
          ],
          "temperature": 0.2,
          "topP": 0.9,
        },
        "systemInstruction": {
          "parts": [
            {
              "text": "You are terse.",
            },
          ],
        },
        "toolConfig": {
          "functionCallingConfig": {
            "allowedFunctionNames": [
              "weather",
            ],
            "mode": "ANY",
          },
        },
        "tools": [
          {
            "functionDeclarations": [
              {
                "description": "Current weather",
                "name": "weather",
                "parametersJsonSchema": {
                  "additionalProperties": false,
                  "properties": {
                    "city": {
                      "type": "string",
                    },
                  },
                  "required": [
                    "city",
                  ],
                  "type": "object",
                },
              },
              {
                "name": "forecast",
              },
            ],
          },
        ],
      }
    `);
  });

  it('asks for SSE when streaming and keeps a tuned model path', () => {
    expect(
      geminiAdapter.chatRequest(request, { model: 'gemini-2.5-flash', stream: true }).path,
    ).toBe('/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(
      geminiAdapter.chatRequest(request, { model: 'tunedModels/mine', stream: false }).path,
    ).toBe('/tunedModels/mine:generateContent');
  });

  it('maps each toolChoice onto functionCallingConfig and leaves out what is unset', () => {
    const configOf = (toolChoice: ChatRequest['toolChoice']) =>
      (
        geminiAdapter.chatRequest({ ...request, toolChoice }, { model: 'm', stream: false })
          .body as Record<string, unknown>
      ).toolConfig;
    expect(configOf('auto')).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(configOf('none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(configOf('required')).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(configOf(undefined)).toBeUndefined();
    expect(geminiAdapter.chatRequest(request, { model: 'm', stream: false }).body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'How many r are in strawberry?' }] }],
    });
  });

  it('wraps a tool result that is not a JSON object as {result}', () => {
    const body = geminiAdapter.chatRequest(
      {
        ...request,
        messages: [
          { role: 'user', content: 'time?' },
          {
            role: 'assistant',
            content: null,
            toolCalls: [{ id: 'c1', name: 'now', arguments: '' }],
          },
          { role: 'tool', toolCallId: 'c1', content: 'noon, not JSON' },
        ],
      },
      { model: 'm', stream: false },
    ).body as { contents: unknown[] };
    expect(body.contents.slice(1)).toEqual([
      {
        role: 'model',
        parts: [
          {
            functionCall: { name: 'now', args: {} },
            thoughtSignature: 'skip_thought_signature_validator',
          },
        ],
      },
      {
        role: 'user',
        parts: [{ functionResponse: { name: 'now', response: { result: 'noon, not JSON' } } }],
      },
    ]);
  });
});

describe('gemini embeddings', () => {
  const embeddings = geminiAdapter.embeddings!;
  const call = (input: string[]) => ({
    input,
    model: 'gemini-embedding-001',
    key: undefined,
    signal: new AbortController().signal,
    dimensions: 4,
  });

  it('uses embedContent for one input and batchEmbedContents for several', () => {
    expect(embeddings.request(call(['hi']))).toEqual({
      path: '/models/gemini-embedding-001:embedContent',
      body: {
        model: 'models/gemini-embedding-001',
        content: { parts: [{ text: 'hi' }] },
        outputDimensionality: 4,
      },
    });
    const batch = embeddings.request(call(['a', 'b']));
    expect(batch.path).toBe('/models/gemini-embedding-001:batchEmbedContents');
    expect((batch.body as { requests: unknown[] }).requests).toHaveLength(2);
  });

  it('parses both answers and counts the usage Gemini does not report', () => {
    const one = embeddings.parse(JSON.parse(fixture('embed.json')), call(['hi']));
    expect(one.embeddings).toEqual([[0.0123, -0.0456, 0.0789, 0.0012]]);
    expect(one.usage).toMatchObject({ estimated: true, completionTokens: 0 });
    expect(one.usage.promptTokens).toBeGreaterThan(0);
    const two = embeddings.parse(JSON.parse(fixture('batch-embed.json')), call(['a', 'b']));
    expect(two.embeddings).toHaveLength(2);
  });
});
