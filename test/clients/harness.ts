/** What the runtime-client tests share: the operations, a config, and waiting on changes. */
import { gql, type TestConduit } from '../helpers/conduit.js';

export const CREATE = /* GraphQL */ `
  mutation ($input: CreateClientInput!) {
    createClient(input: $input) {
      key
      client {
        id
        source
        admin
        models
      }
    }
  }
`;
export const UPDATE = /* GraphQL */ `
  mutation ($id: ID!, $input: UpdateClientInput!) {
    updateClient(id: $id, input: $input) {
      id
      models
      budget
      expiresAt
    }
  }
`;
export const ROTATE = /* GraphQL */ `
  mutation ($id: ID!, $grace: Int) {
    rotateClientKey(id: $id, graceSeconds: $grace) {
      key
      previousKeyValidUntil
      client {
        id
      }
    }
  }
`;
export const REVOKE = /* GraphQL */ `
  mutation ($id: ID!) {
    revokeClient(id: $id) {
      id
      revoked
    }
  }
`;
export const VIEWER = /* GraphQL */ `
  {
    viewer {
      id
    }
  }
`;
export const COMPLETE = /* GraphQL */ `
  mutation {
    complete(input: { model: "chat", messages: [{ role: USER, content: "hello there" }] }) {
      content
    }
  }
`;

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export const echoConfig = {
  providers: { echo: { type: 'echo' } },
  models: { chat: { targets: [{ provider: 'echo', model: 'echo' }] } },
};

/** Runs an operation as `key`; throws when GraphQL answers errors (unless asked for them). */
export async function run(
  gw: TestConduit,
  key: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<any> {
  const { status, body } = await gql(gw.graphqlUrl, query, variables, bearer(key));
  if (body.errors) throw new Error(`${status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Which client `key` logs in as on `gw`, or the refusal: `401: <message>`. */
export async function whoIs(gw: TestConduit, key: string): Promise<string> {
  const { status, body } = await gql(gw.graphqlUrl, VIEWER, undefined, bearer(key));
  if (body.errors) return `${status}: ${body.errors[0].message}`;
  return body.data.viewer.id as string;
}

/** The error code of a completion as `key`, or `ok`. */
export async function completeAs(gw: TestConduit, key: string): Promise<string> {
  const { body } = await gql(gw.graphqlUrl, COMPLETE, undefined, bearer(key));
  return body.errors ? (body.errors[0].extensions?.code as string) : 'ok';
}

/** Resolves at the next change of `gw`'s runtime clients; rejects after `timeoutMs`. */
export function nextChange(gw: TestConduit, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no change of runtime clients seen within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = gw.conduit.services.infra.clients.onChange(() => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Tries `check` until it holds; fails after `timeoutMs`. Each try is a real request. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
