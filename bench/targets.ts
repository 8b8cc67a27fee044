/** The bench's Conduit config and its targets, shared by run.ts and profile.ts. */
import type { Target } from './load.js';

export const key = 'ck-bench';
export const model = 'mock/gpt-4o-mini';
export const messages = (text: string) => [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: text },
];
export const restBody = (text: string, stream = false, modelId = model) =>
  JSON.stringify({
    model: modelId,
    messages: messages(text),
    max_tokens: 64,
    ...(stream && { stream: true, stream_options: { include_usage: true } }),
  });
export const gqlInput = (text: string, modelId = model) => ({
  model: modelId,
  maxTokens: 64,
  messages: messages(text).map((m) => ({ ...m, role: m.role.toUpperCase() })),
});
export const completeBody = (text: string) =>
  JSON.stringify({
    query:
      'mutation Complete($input: CompletionInput!) { complete(input: $input) { id content finishReason usage { promptTokens completionTokens totalTokens } } }',
    variables: { input: gqlInput(text) },
  });
export const streamQuery =
  'subscription Stream($input: CompletionInput!) { completionStream(input: $input) { delta done } }';
export const streamBody = (text: string, modelId = model) =>
  JSON.stringify({ query: streamQuery, variables: { input: gqlInput(text, modelId) } });

/** Conduit with a client key, rate limits (requests and tokens), a budget, the cache and info logs. */
export const benchConfig = (upstream: string) => ({
  providers: { mock: { type: 'openai', baseUrl: `${upstream}/v1`, keys: ['sk-mock'] } },
  clients: [
    {
      id: 'bench',
      key,
      rateLimits: [
        { requests: 1_000_000_000, perSeconds: 60 },
        { tokens: 1_000_000_000_000, perSeconds: 60 },
      ],
      budget: { usd: 1_000_000_000, period: 'month' },
    },
  ],
  cache: { enabled: true },
  logging: { level: 'info' },
});

/** Every body carries `[<id>]`, replaced per request by autocannon: the cache always misses. */
export function benchTargets(upstream: string, conduit: string, proxy = '') {
  const auth = { authorization: `Bearer ${key}` };
  const miss = 'Say twenty words [<id>]';
  const plain: Target[] = [
    {
      name: 'upstream (direct)',
      url: `${upstream}/v1/chat/completions`,
      body: restBody(miss),
      headers: {},
    },
    { name: 'bare proxy', url: `${proxy}/v1/chat/completions`, body: restBody(miss), headers: {} },
    {
      name: 'Conduit REST',
      url: `${conduit}/v1/chat/completions`,
      body: restBody(miss),
      headers: auth,
    },
    {
      name: 'Conduit GraphQL complete',
      url: `${conduit}/graphql`,
      body: completeBody(miss),
      headers: auth,
    },
  ];
  return {
    auth,
    miss,
    plain,
    rest: plain[2]!,
    graphql: plain[3]!,
    restStream: { ...plain[2]!, body: restBody(miss, true) },
    graphqlSse: {
      name: 'Conduit GraphQL completionStream (SSE)',
      url: `${conduit}/graphql`,
      body: streamBody(miss),
      headers: { ...auth, accept: 'text/event-stream' },
    },
  };
}
