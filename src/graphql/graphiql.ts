/**
 * GraphiQL as Conduit serves it on `GET /graphql` in a browser, rendered by
 * `@graphql-yoga/render-graphiql` (the whole bundle inline, nothing fetched from a CDN, so it
 * works on a machine with no network), titled Conduit, opening on four ready operations in tabs
 * and a header editor that says where the key goes. Subscriptions run over GraphQL over SSE,
 * the path the transport serves (`transport/http.ts`).
 */
import type { GraphiQLOptions } from 'graphql-yoga';

const complete = `# An answer from the offline echo provider. With clients configured, put your key in the
# Authorization header below.
mutation Complete {
  complete(input: { model: "echo/echo", messages: [{ role: USER, content: "Hello, Conduit!" }] }) {
    id
    provider
    model
    content
    finishReason
    usage { promptTokens completionTokens totalTokens }
    costUsd
    latencyMs
  }
}
`;

const stream = `# The same answer, token by token (GraphQL over SSE).
subscription Stream {
  completionStream(input: { model: "echo/echo", messages: [{ role: USER, content: "Stream these words back" }] }) {
    delta
    done
    finishReason
    usage { totalTokens }
  }
}
`;

const usage = `# What was spent, by model (an admin sees every client's usage, a client its own).
query Usage {
  usage(groupBy: [MODEL]) {
    requests
    errors
    cacheHits
    costUsd
    groups { model requests promptTokens completionTokens costUsd latencyP50Ms }
  }
}
`;

const providers = `# The providers, their keys (counts, never values) and circuits; the aliases; who you are.
query Providers {
  providers { name type models keys availableKeys circuit healthy }
  models { alias strategy targets { provider model } }
  viewer { id admin budget spentUsd }
}
`;

const headers = JSON.stringify({ Authorization: 'Bearer <your key>' }, null, 2);

export const graphiqlOptions: GraphiQLOptions = {
  title: 'Conduit',
  defaultQuery: complete,
  defaultTabs: [complete, stream, usage, providers].map((query) => ({ query, headers })),
  headers,
  subscriptionsProtocol: 'GRAPHQL_SSE',
};

let page: Promise<string> | undefined;

/**
 * The page, made once: its options are the server's, the same for every request, and it holds
 * GraphiQL's whole bundle (about 9 MB), which Yoga would otherwise build again per page load.
 * The renderer is imported on the first page asked for, not at start-up: loaded, it weighs about
 * 30 MB of RSS, which a gateway nobody opens GraphiQL on never pays.
 */
export const renderPage = (options: GraphiQLOptions): Promise<string> =>
  (page ??= import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) =>
    renderGraphiQL(options),
  ));
