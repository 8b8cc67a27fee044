/**
 * `GET /v1/models` and `GET /v1/models/{id}`: the aliases and `provider/model` names the calling
 * client may use, in OpenAI's list format. `owned_by` is the provider for `provider/model`,
 * `conduit` for an alias.
 *
 * @see https://platform.openai.com/docs/api-reference/models/object
 */
import type { Caller } from '../gateway/types.js';
import type { Services } from '../services.js';
import { conduitHeaders, type Reply } from './convert.js';
import { openAIError } from './errors.js';

/** When this process started: the models' `created` (a route has no date of its own). */
const created = Math.floor(Date.now() / 1000);

function toModel(id: string) {
  const slash = id.indexOf('/');
  return { id, object: 'model', created, owned_by: slash > 0 ? id.slice(0, slash) : 'conduit' };
}

export function listModels(services: Services, caller: Caller, requestId: string): Reply {
  return {
    status: 200,
    headers: conduitHeaders('none', false, requestId),
    body: { object: 'list', data: services.router.names(caller).map(toModel) },
  };
}

export function retrieveModel(
  services: Services,
  caller: Caller,
  id: string,
  requestId: string,
): Reply {
  if (services.router.names(caller).includes(id)) {
    return { status: 200, headers: conduitHeaders('none', false, requestId), body: toModel(id) };
  }
  const error = openAIError(
    404,
    `The model '${id}' does not exist or you do not have access to it.`,
    {
      code: 'model_not_found',
      param: 'model',
    },
  );
  return { ...error, headers: { ...error.headers, ...conduitHeaders('none', false, requestId) } };
}
