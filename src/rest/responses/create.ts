/**
 * `POST /v1/responses` (whole answers), `GET` and `DELETE /v1/responses/{id}`: the Responses API
 * served through the gateway, as `/v1/chat/completions` is, so authentication, limits, budgets,
 * the cache, routing, retries, fallback, usage, logs and metrics hold the same. An OpenAI target
 * gets the client's body as sent and its answer goes back as is (`native.ts`); any other
 * provider answers by translation. Stored responses live in the usage database, per client;
 * `previous_response_id` prepends the stored conversation.
 *
 * @see https://platform.openai.com/docs/api-reference/responses
 */
import type { Caller, ChatMessage, ChatRequest } from '../../gateway/types.js';
import type { ClientSignal } from '../../gateway/gateway.js';
import { newRequestId } from '../../gateway/ids.js';
import type { Services } from '../../services.js';
import { conduitHeaders, type Reply } from '../convert.js';
import { openAIError } from '../errors.js';
import { asSent, nativeResponsesRequest } from './native.js';
import type { InputItem, ResponsesCall } from './request.js';
import {
  finish,
  itemToMessage,
  mergeToolCalls,
  outputItems,
  outputToMessages,
  responseIdOfItem,
  responseId,
  responseObject,
  type Json,
} from './response.js';

const DAY_MS = 86_400_000;

/** A stored response the caller cannot see (another client's, expired, deleted, unknown): 404. */
export class ResponseNotFound extends Error {
  constructor(
    readonly param: string | null,
    message: string,
  ) {
    super(message);
  }
}

/** The request's own part of the conversation, and the history it continues. */
export interface Conversation {
  request: ChatRequest;
  /** What a stored answer keeps to be continued: earlier turns and this input. */
  history: ChatMessage[];
  /** The earlier turns alone (`previous_response_id`'s), empty when it continues none. */
  previous: ChatMessage[];
}

/** The oldest creation time (ms) a stored response may have and still be served. */
const notBefore = (services: Services) =>
  Date.now() - services.config.responses.retentionDays * DAY_MS;

/** Looks up `previous_response_id` and item references; builds the gateway's request. */
export async function toConversation(
  services: Services,
  caller: Caller,
  call: ResponsesCall,
): Promise<Conversation> {
  const store = services.usage.responses;
  const since = notBefore(services);
  let history: ChatMessage[] = [];
  let previous: ChatMessage[] = [];
  if (call.previousResponseId !== null) {
    const stored = await store.get(call.previousResponseId, caller.clientId, since);
    if (!stored) {
      throw new ResponseNotFound(
        'previous_response_id',
        `Previous response with id '${call.previousResponseId}' not found.`,
      );
    }
    history = previous = stored.history as ChatMessage[];
  }
  const input = await resolveReferences(call.input, async (itemId) => {
    const id = responseIdOfItem(itemId);
    const stored = id === undefined ? undefined : await store.get(id, caller.clientId, since);
    const output = (stored?.response as { output?: unknown[] } | undefined)?.output;
    const item = output?.find((entry) => (entry as { id?: unknown }).id === itemId);
    const message = item === undefined ? undefined : itemToMessage(item);
    if (!message) throw new ResponseNotFound('input', `Item with id '${itemId}' not found.`);
    return message;
  });
  history = mergeToolCalls([...history, ...input]);
  const messages: ChatMessage[] = call.instructions
    ? [{ role: 'system', content: call.instructions }, ...history]
    : history;
  const request: ChatRequest = {
    model: call.model,
    messages,
    cache: call.cache,
    route: 'responses',
  };
  if (call.temperature !== undefined) request.temperature = call.temperature;
  if (call.topP !== undefined) request.topP = call.topP;
  if (call.maxTokens !== undefined) request.maxTokens = call.maxTokens;
  if (call.tools) request.tools = call.tools;
  if (call.toolChoice) request.toolChoice = call.toolChoice;
  if (call.user !== undefined) request.user = call.user;
  if (call.responseFormat) request.responseFormat = call.responseFormat;
  if (call.cacheOptions) request.cacheOptions = call.cacheOptions;
  return { request, history, previous };
}

async function resolveReferences(
  items: readonly InputItem[],
  lookup: (itemId: string) => Promise<ChatMessage>,
): Promise<ChatMessage[]> {
  const messages: ChatMessage[] = [];
  for (const item of items) {
    messages.push('reference' in item ? await lookup(item.reference) : item);
  }
  return messages;
}

/**
 * Keeps a finished response when the call asked (`store`, the default). A failed write is logged
 * and the answer still goes out: the client has paid for it.
 */
export async function keep(
  services: Services,
  caller: Caller,
  call: ResponsesCall,
  conversation: Conversation,
  response: Json,
  createdAt: number,
): Promise<void> {
  if (!call.store || typeof response.id !== 'string' || !Array.isArray(response.output)) return;
  const store = services.usage.responses;
  const output = response.output as unknown[];
  try {
    await store.save({
      id: response.id as string,
      clientId: caller.clientId,
      createdAt,
      history: [...conversation.history, ...outputToMessages(output)],
      response,
    });
  } catch (error) {
    services.infra.log.warn({ err: error }, 'storing a response failed');
  }
  store.sweepSoon(notBefore(services));
}

export async function createResponse(
  services: Services,
  caller: Caller,
  call: ResponsesCall,
  body: Json,
  signal: ClientSignal,
): Promise<Reply> {
  const createdAt = Date.now();
  const conversation = await toConversation(services, caller, call);
  const native = nativeResponsesRequest(body, call, conversation.previous);
  const { completion, native: answer } = native
    ? await services.gateway.completeNative(conversation.request, caller, signal, native)
    : { completion: await services.gateway.complete(conversation.request, caller, signal) };
  if (answer !== undefined) {
    // An OpenAI target's own Response, as is; kept under its own id.
    asSent(answer as Json, call);
    await keep(services, caller, call, conversation, answer as Json, createdAt);
    return {
      status: 200,
      headers: conduitHeaders(completion.provider, completion.cached, completion.id),
      body: answer,
    };
  }
  const base = { id: responseId(completion.id), createdAt, model: completion.model, call };
  const output = outputItems(completion.id, completion.content, completion.toolCalls);
  const response = finish(
    responseObject(base, 'completed', output),
    completion.finishReason,
    completion.usage,
  );
  await keep(services, caller, call, conversation, response, createdAt);
  return {
    status: 200,
    headers: conduitHeaders(
      completion.provider,
      completion.cached,
      completion.id,
      completion.semantic?.similarity,
    ),
    body: response,
  };
}

export async function retrieveResponse(
  services: Services,
  caller: Caller,
  id: string,
): Promise<Reply> {
  const stored = await services.usage.responses.get(id, caller.clientId, notBefore(services));
  if (!stored) return notFound(id);
  return {
    status: 200,
    headers: conduitHeaders('none', false, newRequestId()),
    body: stored.response,
  };
}

export async function deleteResponse(
  services: Services,
  caller: Caller,
  id: string,
): Promise<Reply> {
  const deleted = await services.usage.responses.delete(id, caller.clientId);
  if (!deleted) return notFound(id);
  return {
    status: 200,
    headers: conduitHeaders('none', false, newRequestId()),
    body: { id, object: 'response', deleted: true },
  };
}

function notFound(id: string): Reply {
  return notFoundReply(new ResponseNotFound(null, `Response with id '${id}' not found.`));
}

export function notFoundReply(error: ResponseNotFound): Reply {
  const reply = openAIError(404, error.message, { param: error.param });
  return {
    ...reply,
    headers: { ...conduitHeaders('none', false, newRequestId()), ...reply.headers },
  };
}
