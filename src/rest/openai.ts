/**
 * The OpenAI-compatible edge: every path under `/v1/`. Programs written for the OpenAI API work
 * by changing their base URL and key. The path stays thin: the body is read once into one
 * Buffer and parsed once, the answer goes out in one writeHead and one end, and every failure
 * becomes OpenAI's error shape (`errors.ts`). Every response says `x-conduit-provider`,
 * `x-conduit-cache` and `x-request-id`.
 *
 * @see https://platform.openai.com/docs/api-reference
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cancelWhenGone } from '../http/client-gone.js';
import { dropFromHead } from '../http/head.js';
import { badInput } from '../gateway/errors.js';
import { requestIdOf } from '../gateway/gateway.js';
import { newRequestId } from '../gateway/ids.js';
import { BodyAborted, tooLarge } from '../http/body.js';
import type { Caller } from '../gateway/types.js';
import type { Services } from '../services.js';
import { cacheControlsOf } from './cache-headers.js';
import { completeChat, streamChat } from './chat.js';
import { readJson, send } from './io.js';
import { conduitHeaders, toChatCall, type Reply } from './convert.js';
import { createEmbeddings } from './embeddings.js';
import { openAIError, toOpenAIError } from './errors.js';
import { handleMessages, isMessagesPath } from './messages/index.js';
import { listModels, retrieveModel } from './models.js';
import {
  createResponse,
  deleteResponse,
  notFoundReply,
  ResponseNotFound,
  retrieveResponse,
} from './responses/create.js';
import { toResponsesCall } from './responses/request.js';
import { streamResponse } from './responses/stream.js';

/**
 * Serves one request whose path starts with `/v1/`. Rejects only with `BodyAborted` (the client
 * left mid-body: nobody to answer, the server logs it); every other failure is answered.
 */
export async function handleOpenAI(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  // Anthropic's routes answer in Anthropic's shapes, from their own key header on.
  if (isMessagesPath(path)) return handleMessages(services, req, res, path);
  const { maxBodyBytes } = services.config.server;
  try {
    // Before the key: a body said to be too large is refused unread, whoever sends it.
    if (Number(req.headers['content-length']) > maxBodyBytes)
      return send(res, bodyTooLarge(maxBodyBytes));
    const who = services.access.authenticate(req.headers.authorization);
    const caller = who instanceof Promise ? await who : who;
    if (services.access.perClientOrigins) checkOrigin(services, caller, req, res);
    const method = req.method;
    if (path === '/v1/chat/completions') {
      if (method !== 'POST') return send(res, notAllowed(method, path, 'POST'));
      const body = await readJson(req, maxBodyBytes);
      if (body === tooLarge) return send(res, bodyTooLarge(maxBodyBytes));
      const call = toChatCall(body, cacheControlsOf(req.headers));
      const signal = cancelWhenGone(res);
      if (call.stream) return await streamChat(services, caller, call, res, signal);
      return send(res, await completeChat(services, caller, call, signal));
    }
    if (path === '/v1/embeddings') {
      if (method !== 'POST') return send(res, notAllowed(method, path, 'POST'));
      const body = await readJson(req, maxBodyBytes);
      if (body === tooLarge) return send(res, bodyTooLarge(maxBodyBytes));
      return send(res, await createEmbeddings(services, caller, body, cancelWhenGone(res)));
    }
    if (path === '/v1/responses') {
      if (method !== 'POST') return send(res, notAllowed(method, path, 'POST'));
      const body = await readJson(req, maxBodyBytes);
      if (body === tooLarge) return send(res, bodyTooLarge(maxBodyBytes));
      const call = toResponsesCall(body, cacheControlsOf(req.headers));
      const signal = cancelWhenGone(res);
      const json = body as Record<string, unknown>;
      if (call.stream) return await streamResponse(services, caller, call, json, res, signal);
      return send(res, await createResponse(services, caller, call, json, signal));
    }
    if (path.startsWith('/v1/responses/')) {
      const id = decodeId('response', path.slice('/v1/responses/'.length));
      if (method === 'GET') return send(res, await retrieveResponse(services, caller, id));
      if (method === 'DELETE') return send(res, await deleteResponse(services, caller, id));
      return send(res, notAllowed(method, path, 'GET, DELETE'));
    }
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (method !== 'GET') return send(res, notAllowed(method, path, 'GET'));
      if (path === '/v1/models') return send(res, listModels(services, caller, newRequestId()));
      const id = decodeId('model', path.slice('/v1/models/'.length));
      return send(res, retrieveModel(services, caller, id, newRequestId()));
    }
    return send(res, withConduitHeaders(openAIError(404, `Unknown route ${method} ${path}`)));
  } catch (error) {
    if (error instanceof BodyAborted) throw error;
    if (error instanceof ResponseNotFound && !res.headersSent)
      return send(res, notFoundReply(error));
    if (res.headersSent) {
      // Only the stream writes before it is done, and it reports its own failures.
      res.end();
      return;
    }
    send(res, withConduitHeaders(toOpenAIError(error), error));
  }
}

/** A credential used from an origin its client does not list: 403, with no CORS headers. */
function checkOrigin(
  services: Services,
  caller: Caller,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  try {
    services.access.checkOrigin(caller, req.headers.origin);
  } catch (error) {
    dropFromHead(res, 'access-control-');
    throw error;
  }
}

/** An error's reply with the headers every `/v1` response carries (its id: the failure's usage row's). */
function withConduitHeaders(reply: Reply, error?: unknown): Reply {
  return {
    ...reply,
    headers: {
      ...conduitHeaders(lastProvider(error), false, requestIdOf(error) ?? newRequestId()),
      ...reply.headers,
    },
  };
}

/** The provider of the last upstream try, when the error lists them; else `none`. */
function lastProvider(error: unknown): string {
  const attempts = (error as { details?: { attempts?: unknown } } | undefined)?.details?.attempts;
  if (Array.isArray(attempts) && attempts.length > 0) {
    const last: unknown = attempts[attempts.length - 1];
    const provider = (last as { provider?: unknown }).provider;
    if (typeof provider === 'string') return provider;
  }
  return 'none';
}

const notAllowed = (method: string | undefined, path: string, allowed: string): Reply => {
  const reply = withConduitHeaders(
    openAIError(405, `${method} is not allowed on ${path}: use ${allowed}`),
  );
  reply.headers.allow = allowed;
  return reply;
};

const bodyTooLarge = (maxBodyBytes: number): Reply => {
  const reply = withConduitHeaders(
    openAIError(413, `the request body is larger than ${maxBodyBytes} bytes`),
  );
  reply.headers.connection = 'close';
  return reply;
};

/** The id in `/v1/models/{id}` or `/v1/responses/{id}`, percent-decoded. Throws BAD_USER_INPUT if it cannot be. */
function decodeId(what: 'model' | 'response', encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw badInput(what, `the ${what} id in the path is not valid percent-encoding`);
  }
}
