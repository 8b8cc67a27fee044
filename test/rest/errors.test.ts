/** toOpenAIError: every gateway error code → CONTRACT's status, OpenAI's shape and headers. */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, GatewayError, UpstreamError, badInput } from '../../src/gateway/errors.js';
import { toOpenAIError, toOpenAIParam } from '../../src/rest/errors.js';
import { assertSchema, schemaErrors } from '../helpers/openai-schemas.js';

const gatewayError = (code: keyof typeof ErrorCodes, details: Record<string, unknown> = {}) =>
  new GatewayError(ErrorCodes[code], `${code} happened`, details);

describe('toOpenAIError', () => {
  it.each([
    ['UNAUTHENTICATED', 401, 'invalid_request_error', 'invalid_api_key'],
    ['FORBIDDEN', 403, 'permission_error', 'forbidden'],
    ['BAD_USER_INPUT', 400, 'invalid_request_error', null],
    ['RATE_LIMITED', 429, 'rate_limit_error', 'rate_limit_exceeded'],
    ['BUDGET_EXCEEDED', 429, 'insufficient_quota', 'insufficient_quota'],
    ['UPSTREAM_ERROR', 502, 'server_error', 'upstream_error'],
    ['UPSTREAM_TIMEOUT', 504, 'server_error', 'upstream_timeout'],
  ] as const)('maps %s to %i (%s, %s)', (code, status, type, errorCode) => {
    const { status: got, headers, body } = toOpenAIError(gatewayError(code));
    expect(got).toBe(status);
    expect(body.error).toEqual({ message: `${code} happened`, type, param: null, code: errorCode });
    expect(headers['content-type']).toBe('application/json');
    assertSchema('ErrorResponse', body);
  });

  it('gives a 429 a Retry-After in whole seconds, at least 1', () => {
    expect(
      toOpenAIError(gatewayError('RATE_LIMITED', { retryAfterSeconds: 7 })).headers['retry-after'],
    ).toBe('7');
    expect(
      toOpenAIError(gatewayError('RATE_LIMITED', { retryAfterSeconds: 0.2 })).headers[
        'retry-after'
      ],
    ).toBe('1');
    expect(toOpenAIError(gatewayError('RATE_LIMITED')).headers['retry-after']).toBe('1');
  });

  it('tells the SDK not to retry what retrying cannot fix', () => {
    for (const code of ['BUDGET_EXCEEDED', 'UPSTREAM_ERROR', 'UPSTREAM_TIMEOUT'] as const) {
      expect(toOpenAIError(gatewayError(code)).headers['x-should-retry']).toBe('false');
    }
    expect(toOpenAIError(gatewayError('RATE_LIMITED')).headers['x-should-retry']).toBeUndefined();
  });

  it('names the field at fault as OpenAI calls it', () => {
    expect(toOpenAIError(badInput('messages[2].toolCallId', 'x')).body.error.param).toBe(
      'messages[2].tool_call_id',
    );
    expect(toOpenAIParam('topP')).toBe('top_p');
    expect(toOpenAIParam('tools[0].name')).toBe('tools[0].name');
    expect(toOpenAIParam('messages[1].toolCalls[0].id')).toBe('messages[1].tool_calls[0].id');
  });

  it('says nothing of an unexpected error but that it happened', () => {
    const { status, body } = toOpenAIError(new TypeError('secret internals'));
    expect(status).toBe(500);
    expect(body.error.message).toBe('internal error');
  });

  it('maps a stray UpstreamError to 502', () => {
    expect(toOpenAIError(new UpstreamError({ kind: 'server', message: 'boom' })).status).toBe(502);
  });
});

describe('the schema checker', () => {
  it('refuses what OpenAI’s schemas refuse', () => {
    expect(
      schemaErrors('ErrorResponse', { error: { message: 'm', type: 't', code: null } }),
    ).toEqual(['$.error.param: is required']);
    const completion = {
      id: 'x',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          finish_reason: 'done',
          logprobs: null,
          message: { role: 'assistant', content: 'hi' },
        },
      ],
    };
    expect(schemaErrors('CreateChatCompletionResponse', completion).sort()).toEqual(
      [
        '$.choices[0].finish_reason: "done" is not one of ["stop","length","tool_calls","content_filter","function_call"]',
        '$.choices[0].message.refusal: is required',
        '$.system_fingerprint: is null, not string',
      ].sort(),
    );
  });
});
