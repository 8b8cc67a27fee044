/**
 * Sign-in. Today the page keeps the client key itself, in this tab's sessionStorage only (gone
 * when the tab closes, never in localStorage or a cookie). When the `createSessionToken`
 * mutation lands, `signIn` is the one place to change: exchange the key for a short-lived token
 * there and return it as `authorization`; the rest of the page only ever sees a Session.
 */
export interface Viewer {
  id: string;
  admin: boolean;
  budget: number | null;
  budgetPeriod: 'DAY' | 'WEEK' | 'MONTH' | null;
  spentUsd: number;
}

export interface Session {
  /** The value of the Authorization header (HTTP) and of connectionParams.authorization (WebSocket). */
  authorization: string;
  viewer: Viewer;
}

const STORAGE_KEY = 'conduit.dashboard.authorization';

export const VIEWER = /* GraphQL */ `
  query Viewer {
    viewer {
      id
      admin
      budget
      budgetPeriod
      spentUsd
    }
  }
`;

export class SignInError extends Error {}

/** Checks the key against `viewer`; on success remembers it for this tab. */
export async function signIn(key: string): Promise<Session> {
  const authorization = `Bearer ${key.trim()}`;
  const viewer = await fetchViewer(authorization);
  sessionStorage.setItem(STORAGE_KEY, authorization);
  return { authorization, viewer };
}

/** The session this tab signed in with, if its credentials still work. */
export async function resumeSession(): Promise<Session | null> {
  const authorization = sessionStorage.getItem(STORAGE_KEY);
  if (!authorization) return null;
  try {
    return { authorization, viewer: await fetchViewer(authorization) };
  } catch (error) {
    if (error instanceof SignInError && /not accepted/.test(error.message)) signOut();
    throw error;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

async function fetchViewer(authorization: string): Promise<Viewer> {
  let response: Response;
  try {
    response = await fetch(graphqlUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        authorization,
      },
      body: JSON.stringify({ query: VIEWER }),
    });
  } catch {
    throw new SignInError('Conduit cannot be reached. Is the server running?');
  }
  const body = (await response.json().catch(() => null)) as {
    data?: { viewer: Viewer } | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  } | null;
  const code = body?.errors?.[0]?.extensions?.code;
  if (code === 'UNAUTHENTICATED' || response.status === 401) {
    throw new SignInError('That key was not accepted. Check it and try again.');
  }
  if (!body?.data?.viewer) {
    throw new SignInError(
      body?.errors?.[0]?.message ?? `Conduit answered with HTTP ${response.status}.`,
    );
  }
  return body.data.viewer;
}

export const graphqlUrl = (): string => new URL('/graphql', window.location.origin).toString();
export const websocketUrl = (): string => graphqlUrl().replace(/^http/, 'ws');
