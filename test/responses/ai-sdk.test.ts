/**
 * The Vercel AI SDK (`ai` 6, `@ai-sdk/openai` 3) pointed at Conduit: its default `openai(id)`
 * model calls the Responses API. `generateText` and `streamText`, tools included (a tool loop of
 * two steps), against every provider type behind an alias; a stream cut after its first token
 * reaches the SDK as an error.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { APP_KEY, providerCases, startResponsesConduit, type ResponsesConduit } from './setup.js';

let setup: ResponsesConduit;
let openai: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  setup = await startResponsesConduit();
  openai = createOpenAI({ baseURL: `${setup.conduit.url}/v1`, apiKey: APP_KEY });
});

/** A tool the model is told to call; records the cities it was called with. */
function weatherTool(cities: string[]) {
  return tool({
    description: 'The weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      cities.push(city);
      return { city, sky: 'sunny' };
    },
  });
}

const weatherCall = { id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' };

describe.each(providerCases)('the AI SDK on $type behind an alias', ({ type }) => {
  const model = () => openai(`alias-${type}`);

  it('generateText answers through /v1/responses', async () => {
    const result = await generateText({ model: model(), prompt: 'hello from the ai sdk' });
    expect(result.text).toBe('hello from the ai sdk');
    expect(result.finishReason).toBe('stop');
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.response.id).toMatch(/^resp_/);
  });

  it('streamText streams the text and the usage', async () => {
    const result = streamText({ model: model(), prompt: 'stream me some words' });
    const pieces: string[] = [];
    for await (const piece of result.textStream) pieces.push(piece);
    expect(pieces.join('')).toBe('stream me some words');
    expect(pieces.length).toBeGreaterThan(1);
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
    expect(await result.finishReason).toBe('stop');
  });

  it.skipIf(type === 'echo')('generateText runs a tool loop', async () => {
    const fake = setup.fakes.get(type)!;
    fake.next({ toolCalls: [weatherCall] }, { text: 'Sunny in Paris.' });
    const cities: string[] = [];
    const result = await generateText({
      model: model(),
      prompt: 'weather in Paris?',
      tools: { get_weather: weatherTool(cities) },
      stopWhen: stepCountIs(3),
    });
    expect(cities).toEqual(['Paris']);
    expect(result.steps).toHaveLength(2);
    expect(result.text).toBe('Sunny in Paris.');
    // The second step sent the call and its result up.
    const sent = setup.lastUpstreamBody(type);
    expect(sent).toContain('get_weather');
    expect(sent).toContain('sunny');
  });

  it.skipIf(type === 'echo')('streamText runs a tool loop', async () => {
    const fake = setup.fakes.get(type)!;
    fake.next({ toolCalls: [weatherCall] }, { text: 'Still sunny.' });
    const cities: string[] = [];
    const result = streamText({
      model: model(),
      prompt: 'weather in Paris, streamed?',
      tools: { get_weather: weatherTool(cities) },
      stopWhen: stepCountIs(3),
    });
    const parts: string[] = [];
    for await (const part of result.fullStream) parts.push(part.type);
    expect(parts).toContain('tool-call');
    expect(parts).toContain('tool-result');
    expect(cities).toEqual(['Paris']);
    expect(await result.text).toBe('Still sunny.');
  });

  it.skipIf(type === 'echo')('streamText raises a stream cut after its first token', async () => {
    setup.fakes.get(type)!.next({ fail: 'cut_after_first_token', text: 'Partial' });
    const errors: unknown[] = [];
    const result = streamText({
      model: model(),
      prompt: 'this stream breaks',
      onError: ({ error }) => void errors.push(error),
    });
    const parts: { type: string }[] = [];
    for await (const part of result.fullStream) parts.push(part);
    const types = parts.map((p) => p.type);
    expect(types).toContain('text-delta');
    expect(types).toContain('error');
    // Both of what Conduit sends on a failure surface: response.failed and the error event.
    expect(errors.length).toBeGreaterThan(0);
    expect(await result.finishReason).toBe('error');
  });
});
