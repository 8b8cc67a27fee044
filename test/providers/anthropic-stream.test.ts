import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { anthropicAdapter } from '../../src/providers/anthropic.js';
import { sseMessages } from '../../src/providers/http.js';
import { anthropicFrames, anthropicStreamEvents } from '../fakes/anthropic.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), 'utf8');

const request: ChatRequest = {
  model: 'anthropic/claude-sonnet-4-5',
  messages: [{ role: 'user', content: 'Hi' }],
  cache: 'DEFAULT',
};
const context = { model: 'claude-sonnet-4-5', request };

async function* bytesOf(text: string, size = text.length): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function parseStream(text: string, size?: number): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of anthropicAdapter.parseChatStream(
    sseMessages(bytesOf(text, size)),
    context,
  )) {
    events.push(event);
  }
  return events;
}

async function streamError(text: string): Promise<UpstreamError> {
  const error = await parseStream(text).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!UpstreamError.isInstance(error))
    throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
}

describe('anthropic adapter: stream', () => {
  it('parses the recorded text stream', async () => {
    expect(await parseStream(fixture('text.sse'))).toMatchInlineSnapshot(`
      [
        {
          "text": "Hello",
          "type": "delta",
        },
        {
          "text": "! I",
          "type": "delta",
        },
        {
          "text": "'m doing well, thank you for asking",
          "type": "delta",
        },
        {
          "text": ". How are you doing today?",
          "type": "delta",
        },
        {
          "text": " Is",
          "type": "delta",
        },
        {
          "text": " there anything I can help you with?",
          "type": "delta",
        },
        {
          "finishReason": "STOP",
          "model": "claude-sonnet-4-5-20250929",
          "toolCalls": [],
          "type": "finish",
          "usage": {
            "cachedPromptTokens": 0,
            "completionTokens": 30,
            "estimated": false,
            "promptTokens": 12,
            "totalTokens": 42,
          },
        },
      ]
    `);
  });

  it('parses the same stream split in 7-byte writes and with CRLF', async () => {
    const whole = await parseStream(fixture('text.sse'));
    expect(await parseStream(fixture('text.sse'), 7)).toEqual(whole);
    expect(await parseStream(fixture('text.sse').replace(/\n/g, '\r\n'), 13)).toEqual(whole);
  });

  it('assembles a streamed tool call from input_json_delta fragments', async () => {
    const events = await parseStream(fixture('tool-use.sse'));
    expect(events).toEqual([
      {
        type: 'finish',
        model: 'claude-haiku-4-5-20251001',
        finishReason: 'TOOL_CALLS',
        toolCalls: [
          {
            id: 'toolu_01KFbKqPYSuAKujiL6mTfzYA',
            name: 'json',
            arguments:
              '{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}',
          },
        ],
        usage: {
          promptTokens: 849,
          completionTokens: 47,
          totalTokens: 896,
          cachedPromptTokens: 0,
          estimated: false,
        },
      },
    ]);
  });

  it('streams text then a tool call, with prompt-cache usage', async () => {
    const events = await parseStream(fixture('text-tool-cached.sse'));
    expect(events.filter((e) => e.type === 'delta').map((e) => e.text)).toEqual([
      'Let me check',
      ' the weather.',
    ]);
    const finish = events.at(-1);
    expect(finish).toMatchObject({
      type: 'finish',
      finishReason: 'TOOL_CALLS',
      toolCalls: [
        {
          id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
          name: 'get_weather',
          arguments: '{"location": "San Francisco, CA"}',
        },
      ],
      usage: { promptTokens: 2009, cachedPromptTokens: 1800, completionTokens: 89 },
    });
  });

  it('takes the last input_tokens seen (message_delta repeats them)', async () => {
    const finish = (await parseStream(fixture('message-delta-input-tokens.sse'))).at(-1);
    expect(finish).toMatchObject({
      usage: { promptTokens: 61, completionTokens: 2, totalTokens: 63 },
    });
  });

  it('throws the in-band error event as an overloaded UpstreamError', async () => {
    const error = await streamError(fixture('error-overloaded.sse'));
    expect(error.kind).toBe('overloaded');
    expect(error.message).toContain('Overloaded');
    expect(error.retryable).toBe(true);
  });

  it.each([
    ['rate_limit_error', 'rate_limited'],
    ['api_error', 'server'],
    ['invalid_request_error', 'bad_request'],
    ['brand_new_error', 'server'],
  ])('maps an in-band %s to kind %s', async (type, kind) => {
    const text = `event: error\ndata: {"type":"error","error":{"type":"${type}","message":"x"}}\n\n`;
    expect((await streamError(text)).kind).toBe(kind);
  });

  it('throws kind stream when the events end before message_stop', async () => {
    const error = await streamError(fixture('truncated.sse'));
    expect(error.kind).toBe('stream');
  });

  it('ignores unknown events and keep-alive comments', async () => {
    const text = fixture('text.sse').replace(
      'event: ping',
      ': keep-alive\n\nevent: thinking_tokens_soon\ndata: {"type":"thinking_tokens_soon"}\n\nevent: ping',
    );
    expect(await parseStream(text)).toEqual(await parseStream(fixture('text.sse')));
  });

  it('estimates usage when the stream carries none', async () => {
    const events = anthropicStreamEvents({ text: 'one two three', omitUsage: true }, 'claude-x');
    const finish = (await parseStream(anthropicFrames(events).join(''))).at(-1);
    expect(finish).toMatchObject({ type: 'finish', usage: { estimated: true } });
    if (finish?.type !== 'finish') throw new Error('no finish');
    expect(finish.usage.promptTokens).toBeGreaterThan(0);
    expect(finish.usage.completionTokens).toBeGreaterThan(0);
  });
});
