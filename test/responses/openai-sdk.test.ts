/**
 * The official `openai` SDK's Responses API pointed at Conduit's /v1/responses, for every
 * provider type behind an alias: text (whole and streamed), a function-calling round trip and
 * `previous_response_id`. Every answer and every stream event is checked against OpenAI's
 * published schemas.
 */
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeToolCall } from '../fakes/types.js';
import { assertSchema } from '../helpers/openai-schemas.js';
import { APP_KEY, providerCases, startResponsesConduit, type ResponsesConduit } from './setup.js';

let setup: ResponsesConduit;
let client: OpenAI;
const fakes = () => setup.fakes;
const lastUpstreamBody = (type: string) => setup.lastUpstreamBody(type);

beforeAll(async () => {
  setup = await startResponsesConduit();
  client = new OpenAI({ baseURL: `${setup.conduit.url}/v1`, apiKey: APP_KEY, maxRetries: 0 });
});

const weather: FakeToolCall = {
  id: 'call_weather_1',
  name: 'get_weather',
  arguments: '{"city":"Paris"}',
};
const tools: OpenAI.Responses.FunctionTool[] = [
  {
    type: 'function',
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
    strict: false,
  },
];

/** Every event of a stream, each checked against the schema, in order. */
async function collectEvents(stream: AsyncIterable<ResponseStreamEvent>) {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) {
    assertSchema('ResponseStreamEvent', event);
    events.push(event);
  }
  return events;
}

describe.each(providerCases)('POST /v1/responses, $type behind an alias', ({ type }) => {
  const model = `alias-${type}`;

  it('answers a string input with a Response that validates', async () => {
    const { data, response } = await client.responses
      .create({ model, input: 'hello responses', instructions: 'Be brief.' })
      .withResponse();
    assertSchema('Response', data);
    expect(data.object).toBe('response');
    expect(data.status).toBe('completed');
    expect(data.output_text).toBe('hello responses');
    expect(data.instructions).toBe('Be brief.');
    // OpenAI's own answer goes back as is, under its own id.
    if (type === 'openai') expect(data.id).toMatch(/^resp_/);
    else expect(data.id).toBe(`resp_${response.headers.get('x-request-id')}`);
    expect(response.headers.get('x-conduit-provider')).toBe(`p-${type}`);
    expect(data.usage!.total_tokens).toBe(data.usage!.input_tokens + data.usage!.output_tokens);
    if (type !== 'echo') expect(lastUpstreamBody(type)).toContain('Be brief.');
  });

  it('streams the Responses event sequence, every event valid, with the final usage', async () => {
    const stream = client.responses.stream({ model, input: 'stream these words please' });
    const events = await collectEvents(stream);
    const final = await stream.finalResponse();
    assertSchema('Response', final);
    expect(final.output_text).toBe('stream these words please');
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const deltas = events.flatMap((e) =>
      e.type === 'response.output_text.delta' ? [e.delta] : [],
    );
    expect(deltas.join('')).toBe('stream these words please');
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('continues a stored response with previous_response_id', async () => {
    const first = await client.responses.create({ model, input: 'remember the word teal' });
    const second = await client.responses.create({
      model,
      input: 'what was the word?',
      previous_response_id: first.id,
    });
    assertSchema('Response', second);
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe('what was the word?');
    if (type !== 'echo') {
      const sent = lastUpstreamBody(type);
      // The first turn (question and answer) went up before the new question.
      expect(sent.indexOf('remember the word teal')).toBeGreaterThanOrEqual(0);
      expect(sent.indexOf('remember the word teal')).toBeLessThan(
        sent.indexOf('what was the word?'),
      );
    }
    const stored = await client.responses.retrieve(second.id);
    expect(stored).toEqual(second);
  });

  it.skipIf(type === 'echo')('asks the upstream for JSON with text.format', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string', description: 'JSON_SCHEMA_MARKER' } },
      required: ['city'],
      additionalProperties: false,
    };
    fakes().get(type)!.next({ text: '{"city":"Paris"}' });
    const made = await client.responses.create({
      model,
      input: 'a city as JSON',
      text: { format: { type: 'json_schema', name: 'city', schema, strict: true } },
    });
    assertSchema('Response', made);
    expect(JSON.parse(made.output_text)).toEqual({ city: 'Paris' });
    expect(made.text?.format).toEqual({ type: 'json_schema', name: 'city', schema, strict: true });
    const sent = JSON.parse(lastUpstreamBody(type)) as Record<string, any>;
    const asked =
      type === 'anthropic'
        ? sent.output_config.format.schema
        : type === 'gemini'
          ? sent.generationConfig.responseJsonSchema
          : type === 'openai' // the client's own body, as sent
            ? sent.text.format.schema
            : sent.response_format.json_schema.schema;
    expect(asked).toEqual(schema);
    if (type === 'gemini') expect(sent.generationConfig.responseMimeType).toBe('application/json');
  });

  it.skipIf(type === 'echo')('runs a function-calling round trip, whole and streamed', async () => {
    const fake = fakes().get(type)!;
    fake.next({ toolCalls: [weather] });
    const asked = await client.responses.create({
      model,
      input: 'weather in Paris?',
      tools,
      tool_choice: 'auto',
    });
    assertSchema('Response', asked);
    const call = asked.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    const callId = (call as OpenAI.Responses.ResponseFunctionToolCall).call_id;

    fake.next({ text: 'It is sunny in Paris.' });
    const stream = client.responses.stream({
      model,
      previous_response_id: asked.id,
      input: [{ type: 'function_call_output', call_id: callId, output: '{"sky":"sunny"}' }],
      tools,
    });
    await collectEvents(stream);
    const answered = await stream.finalResponse();
    expect(answered.output_text).toBe('It is sunny in Paris.');
    const sent = lastUpstreamBody(type);
    expect(sent).toContain('get_weather');
    expect(sent).toContain('sunny');

    // Streamed tool calls: added, arguments delta and done, item done.
    fake.next({ toolCalls: [weather] });
    const events = await collectEvents(
      client.responses.stream({ model, input: 'weather again?', tools }),
    );
    const types = events.map((e) => e.type);
    expect(types).toContain('response.function_call_arguments.delta');
    const done = events.find((e) => e.type === 'response.function_call_arguments.done');
    expect(done).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.type).toBe('response.completed');
    expect(completed.response.output.at(-1)).toMatchObject({
      type: 'function_call',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
    });
  });

  it.skipIf(type === 'echo')(
    'ends a stream cut after its first token with response.failed and an error the SDK raises',
    async () => {
      fakes().get(type)!.next({ fail: 'cut_after_first_token', text: 'Partial' });
      const events: ResponseStreamEvent[] = [];
      const stream = await client.responses.create({
        model,
        input: 'this will break',
        stream: true,
      });
      const failure = await (async () => {
        try {
          for await (const event of stream) {
            assertSchema('ResponseStreamEvent', event);
            events.push(event);
          }
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(failure).toBeInstanceOf(OpenAI.APIError);
      const types = events.map((e) => e.type);
      expect(types).toContain('response.output_text.delta');
      expect(types.at(-1)).toBe('response.failed');
      const failed = events.at(-1) as OpenAI.Responses.ResponseFailedEvent;
      expect(failed.response.status).toBe('failed');
    },
  );
});
