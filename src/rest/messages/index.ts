/**
 * The Anthropic-compatible edge: `POST /v1/messages` and `POST /v1/messages/count_tokens`.
 * Programs written for Anthropic's API (its SDKs, Claude Code) work by changing their base URL
 * to Conduit's and their key to a Conduit client key. Every request takes the gateway's one
 * pipeline, as `/v1/chat/completions` does (auth, limits, budgets, cache, routing, retries,
 * fallback, usage with route `messages`). An Anthropic target gets the client's body as sent
 * (`gateway/native.ts`: our model name and key, its `anthropic-version` and `anthropic-beta`)
 * and its answer goes back as is; any other provider answers by translation. Every failure is
 * answered in Anthropic's error shape.
 *
 * @see https://docs.claude.com/en/api/messages
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestIdOf } from '../../gateway/gateway.js';
import { newRequestId } from '../../gateway/ids.js';
import type { Caller } from '../../gateway/types.js';
import type { NativeRequest } from '../../providers/types.js';
import { cancelWhenGone } from '../../http/client-gone.js';
import { BodyAborted, tooLarge } from '../../http/body.js';
import type { Services } from '../../services.js';
import { countPromptTokens } from '../../usage/tokens.js';
import { cacheControlsOf } from '../cache-headers.js';
import { readJson, send } from '../io.js';
import { conduitHeaders, type Reply } from '../convert.js';
import { anthropicError, toAnthropicError } from './errors.js';
import { toMessagesCall, toPrompt, type MessagesCall } from './request.js';
import { toMessage } from './response.js';
import { streamMessages } from './stream.js';

/** Whether a `/v1/` path is this edge's. */
export const isMessagesPath = (path: string): boolean =>
  path === '/v1/messages' || path.startsWith('/v1/messages/');

/**
 * The key as Anthropic clients send it: `x-api-key`, or `Authorization: Bearer` (the SDK since
 * 1.0, and OAuth-style tools). `anthropic-version` and `anthropic-beta` are accepted, whatever
 * their value, and passed on to an Anthropic target; a translated answer's shape is the same.
 */
function authenticate(services: Services, req: IncomingMessage): Caller {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key !== '') return services.auth.authenticate(`Bearer ${key}`);
  return services.auth.authenticate(req.headers.authorization);
}

/** Serves one request under `/v1/messages`. Rejects only with `BodyAborted`. */
export async function handleMessages(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const { maxBodyBytes } = services.config.server;
  try {
    if (Number(req.headers['content-length']) > maxBodyBytes) {
      return send(res, bodyTooLarge(maxBodyBytes));
    }
    const caller = authenticate(services, req);
    const method = req.method;
    if (path !== '/v1/messages' && path !== '/v1/messages/count_tokens') {
      return send(
        res,
        withHeaders(anthropicError(404, 'not_found_error', `Unknown route ${method} ${path}`)),
      );
    }
    if (method !== 'POST') {
      const reply = withHeaders(
        anthropicError(
          405,
          'invalid_request_error',
          `${method} is not allowed on ${path}: use POST`,
        ),
      );
      reply.headers.allow = 'POST';
      return send(res, reply);
    }
    const body = await readJson(req, maxBodyBytes);
    if (body === tooLarge) return send(res, bodyTooLarge(maxBodyBytes));
    if (path === '/v1/messages/count_tokens') return send(res, countTokens(services, caller, body));
    const call = toMessagesCall(body, cacheControlsOf(req.headers));
    const native = nativeRequest(req, body as Record<string, unknown>, call);
    const signal = cancelWhenGone(res);
    if (call.stream) return await streamMessages(services, caller, call, native, res, signal);
    const { completion, native: answer } = await services.gateway.completeNative(
      call.request,
      caller,
      signal,
      native,
    );
    return send(res, {
      status: 200,
      headers: {
        ...conduitHeaders(
          completion.provider,
          completion.cached,
          completion.id,
          completion.semantic?.similarity,
        ),
        'request-id': completion.id,
      },
      body: answer ?? toMessage(completion),
    });
  } catch (error) {
    if (error instanceof BodyAborted) throw error;
    if (res.headersSent) {
      // Only the stream writes before it is done, and it reports its own failures.
      res.end();
      return;
    }
    send(res, withHeaders(toAnthropicError(error), error));
  }
}

/** The body as an Anthropic target gets it, with the headers of Anthropic's API it passes on. */
function nativeRequest(
  req: IncomingMessage,
  body: Record<string, unknown>,
  call: MessagesCall,
): NativeRequest {
  const headers: Record<string, string> = {};
  for (const name of ['anthropic-version', 'anthropic-beta']) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return { api: 'anthropic-messages', body, headers, untranslatable: call.untranslatable };
}

/**
 * `count_tokens`: the prompt's tokens as the gateway counts them for its limits (the o200k
 * tokenizer: close to, not the same as, each provider's own). The model must be one the client
 * may call; nothing is admitted or recorded, as nothing is generated.
 */
function countTokens(services: Services, caller: Caller, body: unknown): Reply {
  const request = toPrompt(body);
  services.router.resolve(request.model, caller);
  const input = countPromptTokens(request.messages, request.tools);
  const id = newRequestId();
  return {
    status: 200,
    headers: { ...conduitHeaders('none', false, id), 'request-id': id },
    body: { input_tokens: input },
  };
}

/** An error's reply with the headers every answer carries, and its request id in the body. */
function withHeaders(reply: ReturnType<typeof anthropicError>, error?: unknown): Reply {
  const id = requestIdOf(error) ?? newRequestId();
  reply.body.request_id = id;
  return {
    ...reply,
    headers: { ...conduitHeaders('none', false, id), 'request-id': id, ...reply.headers },
  };
}

const bodyTooLarge = (maxBodyBytes: number): Reply => {
  const reply = withHeaders(
    anthropicError(
      413,
      'request_too_large',
      `the request body is larger than ${maxBodyBytes} bytes`,
    ),
  );
  reply.headers.connection = 'close';
  return reply;
};
