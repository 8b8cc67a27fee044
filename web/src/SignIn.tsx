/** The sign-in form: a client key, checked before the page opens. */
import { useState, type FormEvent } from 'react';
import { signIn, type Session } from './session';

export function SignIn(props: { onSignedIn: (session: Session) => void; problem?: string }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(props.problem);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!key.trim()) {
      setProblem('Enter a client key.');
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      props.onSignedIn(await signIn(key));
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form onSubmit={submit} className="signin-card" aria-label="Sign in">
        <div className="brand big">
          <span className="logo" aria-hidden>
            ◆
          </span>
          Conduit
        </div>
        <p className="sub">Usage, live requests and provider health of this gateway.</p>
        <label htmlFor="key">Client key</label>
        <input
          id="key"
          name="key"
          type="password"
          autoComplete="off"
          placeholder="The key from conduit.yaml's clients"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          autoFocus
        />
        {problem && (
          <p className="notice error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="fine">
          The key is sent once, to this server alone, for a 15-minute session; only that session is
          kept, in this tab.
        </p>
      </form>
    </main>
  );
}
