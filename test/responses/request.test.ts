/**
 * The Responses request body → the gateway's request: input items, image parts, function calls
 * folded onto the assistant turn, tools and tool_choice, and the parameters refused.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/gateway/errors.js';
import { cacheKeyOf } from '../../src/gateway/normalize.js';
import { toResponsesCall } from '../../src/rest/responses/request.js';
import { mergeToolCalls, responseIdOfItem } from '../../src/rest/responses/response.js';
import type { ChatMessage } from '../../src/gateway/types.js';

const parse = (body: Record<string, unknown>) =>
  toResponsesCall({ model: 'm', ...body }, undefined);

describe('toResponsesCall', () => {
  it('takes a string input as one user message, with defaults like OpenAI’s', () => {
    const call = parse({ input: 'hi' });
    expect(call.input).toEqual([{ role: 'user', content: 'hi' }]);
    expect(call).toMatchObject({ store: true, stream: false, previousResponseId: null });
    expect(call.instructions).toBeNull();
  });

  it('maps input_image parts to image parts, a data URL to inline bytes', () => {
    const call = parse({
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'what is this?' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=' },
            { type: 'input_image', image_url: 'https://example.com/cat.jpg', detail: 'low' },
          ],
        },
      ],
    });
    expect(call.input).toEqual([
      {
        role: 'user',
        content: 'what is this?',
        parts: [
          { type: 'text', text: 'what is this?' },
          {
            type: 'image',
            source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
          },
          { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
  });

  it('maps function calls and their outputs, and developer messages to system', () => {
    const call = parse({
      input: [
        { type: 'message', role: 'developer', content: 'rules' },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}', id: 'fc_x_0' },
        { type: 'function_call', call_id: 'c2', name: 'g', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        {
          type: 'function_call_output',
          call_id: 'c2',
          output: [{ type: 'input_text', text: 'two' }],
        },
      ],
    });
    const messages = mergeToolCalls(call.input as ChatMessage[]);
    expect(messages).toEqual([
      { role: 'system', content: 'rules' },
      {
        role: 'assistant',
        content: null,
        toolCalls: [
          { id: 'c1', name: 'f', arguments: '{"a":1}' },
          { id: 'c2', name: 'g', arguments: '{}' },
        ],
      },
      { role: 'tool', content: 'one', toolCallId: 'c1' },
      { role: 'tool', content: 'two', toolCallId: 'c2' },
    ]);
  });

  it('takes function tools and tool_choice, echoing them in the Responses shape', () => {
    const call = parse({
      input: 'x',
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: true }],
      tool_choice: { type: 'function', name: 'f' },
      max_output_tokens: 50,
      temperature: 0.5,
      top_p: 0.9,
    });
    expect(call.tools).toEqual([{ name: 'f', parameters: { type: 'object' } }]);
    expect(call.toolChoice).toEqual({ name: 'f' });
    expect(call.echo.tools).toEqual([
      {
        type: 'function',
        name: 'f',
        description: null,
        parameters: { type: 'object' },
        strict: true,
      },
    ]);
    expect(call).toMatchObject({ maxTokens: 50, temperature: 0.5, topP: 0.9 });
  });

  it('takes text.format as the JSON output asked', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } } };
    const call = parse({
      input: 'x',
      text: { format: { type: 'json_schema', name: 'count', schema, strict: true } },
    });
    expect(call.responseFormat).toEqual({
      type: 'json_schema',
      name: 'count',
      schema,
      strict: true,
    });
    expect(parse({ input: 'x', text: { format: { type: 'json_object' } } }).responseFormat).toEqual(
      { type: 'json_object' },
    );
    expect(
      parse({ input: 'x', text: { format: { type: 'text' } } }).responseFormat,
    ).toBeUndefined();
  });

  it.each([
    [{ input: 3 }, 'input'],
    [{ input: [{ role: 'tool', content: 'x' }] }, 'input[0].role'],
    [
      { input: [{ role: 'assistant', content: [{ type: 'input_image', image_url: 'u' }] }] },
      'input[0].content',
    ],
    [
      { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] },
      'input[0].content[0].file_id',
    ],
    [{ input: 'x', background: true }, 'background'],
    [{ input: 'x', text: { format: { type: 'json_schema', name: 'n' } } }, 'text.format.schema'],
    [{ input: 'x', text: { format: { type: 'xml' } } }, 'text.format.type'],
    [{ input: 'x', stream: 'yes' }, 'stream'],
    [{ input: 'x', metadata: { a: 1 } }, 'metadata.a'],
  ])('refuses %j naming %s', (body, field) => {
    try {
      parse(body);
      expect.unreachable();
    } catch (error) {
      expect(GatewayError.isInstance(error)).toBe(true);
      expect((error as GatewayError).details.field).toBe(field);
    }
  });
});

describe('the cache key', () => {
  it('tells a JSON request from the same request asking for text', () => {
    const text = {
      model: 'm',
      messages: [{ role: 'user' as const, content: 'x' }],
      cache: 'DEFAULT' as const,
    };
    const json = { ...text, responseFormat: { type: 'json_object' as const } };
    expect(cacheKeyOf(json)).not.toBe(cacheKeyOf(text));
    expect(cacheKeyOf({ ...json })).toBe(cacheKeyOf(json));
  });
});

describe('responseIdOfItem', () => {
  it('names the response an output item came from', () => {
    const id = '01a2499b-d189-70fe-8f03-86966164d990';
    expect(responseIdOfItem(`msg_${id}`)).toBe(`resp_${id}`);
    expect(responseIdOfItem(`fc_${id}_12`)).toBe(`resp_${id}`);
    expect(responseIdOfItem('rs_other')).toBeUndefined();
  });
});
