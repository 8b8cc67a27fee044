/**
 * Sign-in. The client key is used once: it is exchanged for a short-lived session token
 * (`createSessionToken`, scope CLIENT: the client's own rights, admin when it is), and only
 * the token is kept, in this tab's sessionStorage (gone when the tab closes, never in
 * localStorage or a cookie) and sent from then on. When the token ends the page asks to sign
 * in again, saying the session ended. A server with session tokens off (`auth.sessionTokens`
 * unset) cannot mint one: the key is then held in this page's memory only, never stored, and a
 * reload asks for it again. The rest of the page only ever sees a Session.
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
  /** When the session token ends (epoch ms); undefined: the key itself (session tokens off). */
  expiresAt?: number;
}

/** What this tab keeps: the token and its end, never the key. */
interface Stored {
  authorization: string;
  expiresAt: number;
}

const STORAGE_KEY = 'conduit.dashboard.session';
/** How long a dashboard session lasts (the server may cap it lower). */
const SESSION_SECONDS = 15 * 60;
const SESSION_USER = 'dashboard';

const MINT = /* GraphQL */ `
  mutation DashboardSession($input: SessionTokenInput!) {
    createSessionToken(input: $input) {
      token
      expiresAt
    }
  }
`;

const ENDED = 'Your dashboard session ended. Sign in again with your client key.';
const CLOSED =
  'Conduit no longer accepts this session (the client key changed or was revoked). Sign in again.';
const KEY_REFUSED = 'That key was not accepted. Check it and try again.';

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

/** Exchanges the key for a session token and remembers the token (only) for this tab. */
export async function signIn(key: string): Promise<Session> {
  const keyAuthorization = `Bearer ${key.trim()}`;
  const minted = await mintToken(keyAuthorization);
  if (!minted) {
    // Session tokens are off on this server: the key, for this page only.
    return { authorization: keyAuthorization, viewer: await fetchViewer(keyAuthorization) };
  }
  const authorization = `Bearer ${minted.token}`;
  const viewer = await fetchViewer(authorization);
  const stored: Stored = { authorization, expiresAt: minted.expiresAt };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
  return { authorization, viewer, expiresAt: minted.expiresAt };
}

/** The session this tab signed in with, if its token still works. */
export async function resumeSession(): Promise<Session | null> {
  const stored = readStored();
  if (!stored) return null;
  if (stored.expiresAt <= Date.now()) {
    signOut();
    throw new SignInError(ENDED);
  }
  try {
    return { ...stored, viewer: await fetchViewer(stored.authorization, ENDED) };
  } catch (error) {
    if (error instanceof SignInError && error.message === ENDED) signOut();
    throw error;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Why the page signed out when Conduit closed its connection as unauthenticated (4401/4403). */
export function signedOutWhy(session: Session): string {
  if (session.expiresAt === undefined) return 'This key is no longer accepted.';
  return Date.now() >= session.expiresAt - 1000 ? ENDED : CLOSED;
}

function readStored(): Stored | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Stored | null;
    return stored && typeof stored.authorization === 'string' && stored.expiresAt > 0
      ? stored
      : null;
  } catch {
    return null;
  }
}

interface GraphQLAnswer<T> {
  status: number;
  data: T | null | undefined;
  error: { message: string; code: string | undefined } | undefined;
}

async function post<T>(
  authorization: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLAnswer<T>> {
  let response: Response;
  try {
    response = await fetch(graphqlUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        authorization,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new SignInError('Conduit cannot be reached. Is the server running?');
  }
  const body = (await response.json().catch(() => null)) as {
    data?: T | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  } | null;
  const first = body?.errors?.[0];
  return {
    status: response.status,
    data: body?.data,
    error: first && { message: first.message, code: first.extensions?.code },
  };
}

/** A session token for the key; null when the server has session tokens off. */
async function mintToken(
  keyAuthorization: string,
): Promise<{ token: string; expiresAt: number } | null> {
  const answer = await post<{ createSessionToken: { token: string; expiresAt: string } }>(
    keyAuthorization,
    MINT,
    { input: { user: SESSION_USER, ttlSeconds: SESSION_SECONDS, scope: 'CLIENT' } },
  );
  if (answer.error?.code === 'UNAUTHENTICATED' || answer.status === 401)
    throw new SignInError(KEY_REFUSED);
  const minted = answer.data?.createSessionToken;
  if (minted) return { token: minted.token, expiresAt: Date.parse(minted.expiresAt) };
  if (answer.error?.code === 'FORBIDDEN' && /session tokens are off/.test(answer.error.message))
    return null;
  throw new SignInError(answer.error?.message ?? `Conduit answered with HTTP ${answer.status}.`);
}

async function fetchViewer(authorization: string, refused = KEY_REFUSED): Promise<Viewer> {
  const answer = await post<{ viewer: Viewer }>(authorization, VIEWER);
  if (answer.error?.code === 'UNAUTHENTICATED' || answer.status === 401)
    throw new SignInError(refused);
  if (!answer.data?.viewer)
    throw new SignInError(answer.error?.message ?? `Conduit answered with HTTP ${answer.status}.`);
  return answer.data.viewer;
}

export const graphqlUrl = (): string => new URL('/graphql', window.location.origin).toString();
export const websocketUrl = (): string => graphqlUrl().replace(/^http/, 'ws');
