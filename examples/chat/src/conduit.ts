/**
 * Conduit from the page: one Apollo Client over graphql-ws. The page never holds a key: it asks
 * its own backend for a short-lived session token, and again whenever the socket reconnects
 * (a token lives minutes, a tab lives longer).
 */
import { ApolloClient, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';

export interface Session {
  /** A session token for the signed-in user, or null when the gateway is open. */
  token: string | null;
  /** Conduit's GraphQL WebSocket address. */
  wsUrl: string;
  user: string;
}

export async function fetchSession(): Promise<Session> {
  const response = await fetch('/api/session', { method: 'POST' });
  if (!response.ok) throw new Error(`the backend gave no session (HTTP ${response.status})`);
  return (await response.json()) as Session;
}

export function createConduitClient(first: Session): ApolloClient {
  let session: Session | undefined = first;
  const socket = createClient({
    url: first.wsUrl,
    lazy: true,
    retryAttempts: 3,
    connectionParams: async () => {
      // The first connect uses the session the page signed in with; each later one mints anew.
      const current = session ?? (await fetchSession());
      session = undefined;
      return current.token ? { authorization: `Bearer ${current.token}` } : {};
    },
  });
  return new ApolloClient({ link: new GraphQLWsLink(socket), cache: new InMemoryCache() });
}

export const MODELS = gql`
  query Models {
    models {
      alias
    }
  }
`;

export const COMPLETION_STREAM = gql`
  subscription Chat($input: CompletionInput!) {
    completionStream(input: $input) {
      id
      delta
      done
      finishReason
      model
      provider
      costUsd
      usage {
        promptTokens
        completionTokens
      }
    }
  }
`;

export interface Chunk {
  id: string;
  delta: string;
  done: boolean;
  finishReason: string | null;
  model: string;
  provider: string;
  costUsd: number | null;
  usage: { promptTokens: number; completionTokens: number } | null;
}

/** An error as a person should read it. */
export function describeError(error: unknown): string {
  const first = (error as { errors?: { message: string; extensions?: Record<string, unknown> }[] })
    .errors?.[0];
  const code = first?.extensions?.code;
  if (code === 'RATE_LIMITED') {
    const seconds = Number(first?.extensions?.retryAfterSeconds);
    return Number.isFinite(seconds)
      ? `Rate limited: try again in ${Math.max(1, Math.ceil(seconds))} s.`
      : 'Rate limited: try again shortly.';
  }
  if (code === 'BUDGET_EXCEEDED') return 'Your budget for this period is spent.';
  if (code === 'UNAUTHENTICATED')
    return 'Your session has ended: reload the page to sign in again.';
  if (first?.message) return first.message;
  if (error instanceof Error && error.message) return error.message;
  if (typeof CloseEvent !== 'undefined' && error instanceof CloseEvent)
    return `The connection to Conduit closed (${error.code}${error.reason ? `: ${error.reason}` : ''}).`;
  return 'Conduit could not be reached.';
}
