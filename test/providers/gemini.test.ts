import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/gateway/errors.js';
import type { ChatRequest, StreamEvent } from '../../src/gateway/types.js';
import { geminiAdapter } from '../../src/providers/gemini.js';
import { mapGeminiFinishReason } from '../../src/providers/gemini-response.js';
import { sseMessages } from '../../src/providers/http.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/gemini/${name}`, import.meta.url), 'utf8');

const request: ChatRequest = {
  model: 'gemini/gemini-3-pro-preview',
  messages: [{ role: 'user', content: 'How many r are in strawberry?' }],
  cache: 'DEFAULT',
};
const context = { model: 'gemini-3-pro-preview', request };

async function* bytesOf(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text);
}

async function streamOf(sse: string): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of geminiAdapter.parseChatStream(sseMessages(bytesOf(sse)), context)) {
    events.push(event);
  }
  return events;
}

async function streamError(sse: string): Promise<UpstreamError> {
  const error = await streamOf(sse).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!UpstreamError.isInstance(error)) throw new Error(`expected an UpstreamError: ${error}`);
  return error;
}

describe('gemini parseChatResponse', () => {
  it('reads text, model and usage with thoughts and cached tokens', () => {
    const response = geminiAdapter.parseChatResponse(JSON.parse(fixture('text.json')), context);
    expect(response).toEqual({
      model: 'gemini-3-pro-preview',
      content: 'There are **3** "r"s in strawberry.',
      toolCalls: [],
      finishReason: 'STOP',
      usage: {
        promptTokens: 2065,
        completionTokens: 12 + 244,
        totalTokens: 2065 + 256,
        cachedPromptTokens: 2048,
        estimated: false,
      },
    });
  });

  it('reads function calls as TOOL_CALLS with null content and stable distinct ids', () => {
    const json: unknown = JSON.parse(fixture('tool-call.json'));
    const response = geminiAdapter.parseChatResponse(json, context);
    expect(response.content).toBeNull();
    expect(response.finishReason).toBe('TOOL_CALLS');
    expect(response.toolCalls.map(({ name, arguments: args }) => ({ name, args }))).toEqual([
      { name: 'weather', args: '{"location":"San Francisco"}' },
      { name: 'weather', args: '{"location":"Paris","unit":"celsius"}' },
    ]);
    const [first, second] = response.toolCalls;
    expect(first!.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(first!.id).not.toBe(second!.id);
    expect(geminiAdapter.parseChatResponse(json, context).toolCalls[0]!.id).toBe(first!.id);
  });

  it('answers a blocked prompt with CONTENT_FILTER and empty content', () => {
    const response = geminiAdapter.parseChatResponse(
      JSON.parse(fixture('prompt-blocked.json')),
      context,
    );
    expect(response).toMatchObject({ content: '', finishReason: 'CONTENT_FILTER', toolCalls: [] });
    expect(response.usage.promptTokens).toBe(9);
  });

  it('maps MAX_TOKENS to LENGTH and SAFETY to CONTENT_FILTER', () => {
    const parse = (name: string) =>
      geminiAdapter.parseChatResponse(JSON.parse(fixture(name)), context);
    expect(parse('max-tokens.json')).toMatchObject({
      content: 'Once upon a',
      finishReason: 'LENGTH',
    });
    expect(parse('safety.json')).toMatchObject({ content: '', finishReason: 'CONTENT_FILTER' });
    for (const reason of ['RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII']) {
      expect(mapGeminiFinishReason(reason, false)).toBe('CONTENT_FILTER');
    }
    expect(mapGeminiFinishReason('OTHER', false)).toBe('STOP');
  });

  it('estimates usage when usageMetadata is missing', () => {
    const json = JSON.parse(fixture('max-tokens.json')) as Record<string, unknown>;
    delete json.usageMetadata;
    const { usage } = geminiAdapter.parseChatResponse(json, context);
    expect(usage.estimated).toBe(true);
    expect(usage.promptTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBeGreaterThan(0);
  });
});

describe('gemini parseChatStream', () => {
  it('yields text deltas then one finish with the last usage (CRLF and LF alike)', async () => {
    for (const name of ['text.sse', 'text-lf.sse']) {
      expect(await streamOf(fixture(name))).toEqual([
        { type: 'delta', text: 'There are **3**' },
        { type: 'delta', text: ' "r"s in strawberry.\n\nst**r**awbe**rr**y' },
        {
          type: 'finish',
          model: 'gemini-3-pro-preview',
          finishReason: 'STOP',
          toolCalls: [],
          usage: {
            promptTokens: 9,
            completionTokens: 23 + 185,
            totalTokens: 9 + 208,
            cachedPromptTokens: 0,
            estimated: false,
          },
        },
      ]);
    }
  });

  it('assembles the function call on the finish event with the same id as the JSON answer', async () => {
    const events = await streamOf(fixture('tool-call.sse'));
    expect(events).toHaveLength(1);
    const finish = events[0];
    if (finish?.type !== 'finish') throw new Error('expected finish');
    expect(finish.finishReason).toBe('TOOL_CALLS');
    expect(finish.toolCalls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        name: 'weather',
        arguments: '{"location":"San Francisco"}',
      },
    ]);
    const json = JSON.parse(fixture('tool-call.json')) as { responseId: string };
    expect(finish.toolCalls[0]!.id).toBe(
      geminiAdapter.parseChatResponse(json, context).toolCalls[0]!.id,
    );
  });

  it('finishes a blocked prompt with CONTENT_FILTER', async () => {
    expect(await streamOf(fixture('prompt-blocked.sse'))).toMatchObject([
      { type: 'finish', finishReason: 'CONTENT_FILTER', toolCalls: [] },
    ]);
  });

  it('throws kind stream when the events end before a finishReason', async () => {
    const error = await streamError(fixture('truncated.sse'));
    expect(error.kind).toBe('stream');
    expect(error.retryable).toBe(true);
  });

  it('throws the in-band error with the kind of its status', async () => {
    const error = await streamError(fixture('stream-error.sse'));
    expect(error).toMatchObject({ kind: 'overloaded', status: 503 });
    expect(error.message).toContain('The model is overloaded');
  });

  it('estimates usage when the chunks carry no usageMetadata', async () => {
    const sse = fixture('text-lf.sse').replace(/,"usageMetadata":\{[^}]*\[[^\]]*\][^}]*\}/g, '');
    expect(sse).not.toContain('usageMetadata');
    const finish = (await streamOf(sse)).at(-1);
    expect(finish).toMatchObject({ type: 'finish', usage: { estimated: true } });
  });
});

describe('gemini parseError', () => {
  const parse = (status: number, name: string, headers: Record<string, string> = {}) =>
    geminiAdapter.parseError({ status, headers, body: fixture(name) });

  it.each([
    [400, 'error-400-api-key-invalid.json', 'auth'],
    [400, 'error-400-invalid-argument.json', 'bad_request'],
    [403, 'error-403-permission-denied.json', 'auth'],
    [404, 'error-404-not-found.json', 'bad_request'],
    [429, 'error-429-retry-info.json', 'rate_limited'],
    [429, 'error-429-daily-quota.json', 'quota'],
    [500, 'error-500-internal.json', 'server'],
    [503, 'error-503-unavailable.json', 'overloaded'],
    [504, 'error-504-deadline-exceeded.json', 'timeout'],
  ] as const)('%i %s → %s', (status, name, kind) => {
    const error = parse(status, name);
    expect(error).toMatchObject({ kind, status, body: fixture(name) });
    expect(error.message).toMatch(new RegExp(`^gemini ${status} [A-Z_]+: .+`));
  });

  it('reads the retry delay from RetryInfo, and prefers a retry-after header', () => {
    expect(parse(429, 'error-429-retry-info.json').retryAfterMs).toBe(34_400);
    expect(parse(429, 'error-429-retry-info.json', { 'retry-after': '7' }).retryAfterMs).toBe(7000);
    expect(parse(500, 'error-500-internal.json').retryAfterMs).toBeUndefined();
  });

  it('copes with a body that is not JSON', () => {
    const error = geminiAdapter.parseError({
      status: 502,
      headers: {},
      body: '<html><title>502 Bad Gateway</title></html>',
    });
    expect(error).toMatchObject({ kind: 'server', status: 502 });
    expect(error.message).toContain('502 Bad Gateway');
  });
});
