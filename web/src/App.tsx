/** The dashboard: sign-in, then usage, live requests, providers and budget for the caller's scope. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Provider as UrqlProvider, useQuery } from 'urql';
import { Budget } from './Budget';
import { connect } from './client';
import { LiveFeed } from './LiveFeed';
import { Notice } from './Notice';
import { Overview } from './Overview';
import { Providers } from './Providers';
import { resumeSession, signedOutWhy, signOut, type Session } from './session';
import { SignIn } from './SignIn';
import { ranges, type Bucket } from './usage';

/** The figures follow the live feed, at most this often. */
const REFRESH_EVERY_MS = 3000;

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    resumeSession().then(setSession, (error: Error) => {
      setProblem(error.message);
      setSession(null);
    });
  }, []);

  if (session === undefined) return <Notice tone="quiet">Loading…</Notice>;
  if (session === null) return <SignIn onSignedIn={setSession} problem={problem} />;
  return (
    <Dashboard
      key={session.authorization}
      session={session}
      onSignOut={(why) => {
        signOut();
        setProblem(why);
        setSession(null);
      }}
    />
  );
}

function Dashboard(props: { session: Session; onSignOut: (why?: string) => void }) {
  const { session, onSignOut } = props;
  const { viewer } = session;
  const [connected, setConnected] = useState(false);
  const [lost, setLost] = useState(false);
  const connection = useMemo(
    () =>
      connect(session, (state, code) => {
        setConnected(state === 'connected');
        if (state === 'connected') setLost(false);
        else if (code === 4401 || code === 4403) onSignOut(signedOutWhy(session));
        else setLost(true);
      }),
    // One connection per session.
    [session],
  );
  useEffect(() => () => void connection.ws.dispose(), [connection]);

  const [rangeId, setRangeId] = useState('24h');
  const range = ranges.find((r) => r.id === rangeId) ?? ranges[0]!;
  const [bucketChoice, setBucket] = useState<Bucket>('HOUR');
  // Hourly buckets over more than a week are too thin to read.
  const bucket: Bucket = range.hours > 24 * 7 ? 'DAY' : bucketChoice;
  const [client, setClient] = useState('');

  // A finished request refreshes the figures, at most every REFRESH_EVERY_MS.
  const [refresh, setRefresh] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onEvent = useCallback(() => {
    pending.current ??= setTimeout(() => {
      pending.current = undefined;
      setRefresh((n) => n + 1);
    }, REFRESH_EVERY_MS);
  }, []);
  useEffect(() => () => clearTimeout(pending.current), []);

  return (
    <UrqlProvider value={connection.urql}>
      <div className="page">
        <header className="topbar">
          <div className="brand">
            <span className="logo" aria-hidden>
              ◆
            </span>
            Conduit
          </div>
          <div className="who">
            <span className="sub">Signed in as</span> <strong>{viewer.id}</strong>
            {viewer.admin && <span className="tag admin">admin</span>}
          </div>
          <button className="link" onClick={() => onSignOut()}>
            Sign out
          </button>
        </header>

        {lost && (
          <Notice tone="error">
            The connection to Conduit was lost. Trying again… (the server may be restarting)
          </Notice>
        )}

        <div className="controls" role="group" aria-label="What to show">
          <label>
            <span>Range</span>
            <select value={rangeId} onChange={(e) => setRangeId(e.target.value)}>
              {ranges.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>Charts by</span>
            <select
              value={bucket}
              onChange={(e) => setBucket(e.target.value as Bucket)}
              disabled={range.hours > 24 * 7}
            >
              <option value="HOUR">Hour</option>
              <option value="DAY">Day</option>
            </select>
          </label>
          {viewer.admin && <ClientPicker value={client} onChange={setClient} />}
        </div>

        <Overview
          admin={viewer.admin}
          client={client}
          range={range}
          bucket={bucket}
          refresh={refresh}
        />

        <div className="side-by-side">
          <LiveFeed
            client={client}
            showClient={viewer.admin}
            connected={connected}
            onEvent={onEvent}
          />
          <div className="stack">
            <Budget refresh={refresh} fallback={viewer} />
            <Providers />
          </div>
        </div>
        <footer className="fine">
          Figures from the <code>usage</code> query · live by subscription ·{' '}
          <a href="/graphql">GraphiQL</a>
        </footer>
      </div>
    </UrqlProvider>
  );
}

/** Admins: every client that has usage, to narrow the page to one. */
function ClientPicker(props: { value: string; onChange: (client: string) => void }) {
  const [result] = useQuery<{ usage: { groups: { client: { id: string } | null }[] } }>({
    query: 'query Clients { usage(groupBy: [CLIENT]) { groups { client { id } } } }',
  });
  const ids = (result.data?.usage.groups ?? [])
    .map((g) => g.client?.id)
    .filter((id): id is string => Boolean(id))
    .sort();
  if (props.value && !ids.includes(props.value)) ids.unshift(props.value);
  return (
    <label>
      <span>Client</span>
      <select value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        <option value="">All clients</option>
        {ids.map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
      </select>
    </label>
  );
}
