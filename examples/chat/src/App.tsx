import { useApolloClient, useQuery } from '@apollo/client/react';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Subscription } from 'rxjs';
import { COMPLETION_STREAM, MODELS, describeError, type Chunk } from './conduit';

interface Turn {
  role: 'user' | 'assistant';
  text: string;
  /** For answers: how it ended and what it cost. */
  status?: 'streaming' | 'done' | 'stopped' | 'failed';
  detail?: string;
}

export function App({ user }: { user: string }) {
  const client = useApolloClient();
  const models = useQuery<{ models: { alias: string }[] }>(MODELS);
  const [model, setModel] = useState('');
  const [draft, setDraft] = useState('');
  const [turns, setTurns] = useState<Turn[]>([]);
  const running = useRef<Subscription | null>(null);
  const log = useRef<HTMLOListElement>(null);
  const streaming = turns.at(-1)?.status === 'streaming';

  const aliases = models.data?.models.map((m) => m.alias) ?? [];
  useEffect(() => {
    if (!model && aliases[0]) setModel(aliases[0]);
  }, [aliases, model]);
  useEffect(() => {
    log.current?.lastElementChild?.scrollIntoView({ block: 'end' });
  }, [turns]);
  useEffect(() => () => running.current?.unsubscribe(), []);

  const updateLast = (change: (turn: Turn) => Turn) =>
    setTurns((all) => [...all.slice(0, -1), change(all.at(-1)!)]);

  function send(event: FormEvent) {
    event.preventDefault();
    const text = draft.trim();
    if (!text || !model || streaming) return;
    const history = [...turns.filter((t) => t.status !== 'failed'), { role: 'user', text } as Turn];
    setTurns([...history, { role: 'assistant', text: '', status: 'streaming' }]);
    setDraft('');
    running.current = client
      .subscribe<{ completionStream: Chunk }>({
        query: COMPLETION_STREAM,
        variables: {
          input: {
            model,
            user,
            messages: history.map((t) => ({ role: t.role.toUpperCase(), content: t.text })),
          },
        },
      })
      .subscribe({
        next: ({ data, error }) => {
          if (error)
            return updateLast((t) => ({ ...t, status: 'failed', detail: describeError(error) }));
          const chunk = data?.completionStream;
          if (!chunk) return;
          updateLast((t) => ({
            ...t,
            text: t.text + chunk.delta,
            ...(chunk.done && { status: 'done', detail: costLine(chunk) }),
          }));
        },
        error: (error) =>
          updateLast((t) => ({ ...t, status: 'failed', detail: describeError(error) })),
      });
  }

  function stop() {
    // Unsubscribing sends graphql-ws's `complete`: Conduit aborts the upstream call.
    running.current?.unsubscribe();
    running.current = null;
    updateLast((t) => ({ ...t, status: 'stopped', detail: 'Stopped.' }));
  }

  return (
    <main className="chat">
      <header>
        <h1>Chat</h1>
        <label>
          Model{' '}
          <select
            aria-label="Model"
            value={model}
            onChange={(e) => setModel(e.target.value)}
            disabled={streaming}
          >
            {aliases.map((alias) => (
              <option key={alias}>{alias}</option>
            ))}
          </select>
        </label>
        <span className="user">Signed in as {user}</span>
      </header>
      {models.error && (
        <p role="alert">Models could not be loaded: {describeError(models.error)}</p>
      )}
      {!models.loading && !models.error && aliases.length === 0 && (
        <p role="alert">This key may call no model.</p>
      )}
      <ol className="turns" ref={log} aria-live="polite">
        {turns.length === 0 && <li className="empty">Ask anything; the answer streams in.</li>}
        {turns.map((turn, i) => (
          <li
            key={i}
            className={`turn ${turn.role} ${turn.status ?? ''}`}
            data-status={turn.status}
          >
            <p>{turn.text || (turn.status === 'streaming' ? '…' : '')}</p>
            {turn.detail && <small className="detail">{turn.detail}</small>}
          </li>
        ))}
      </ol>
      <form onSubmit={send}>
        <textarea
          aria-label="Message"
          value={draft}
          placeholder="Write a message"
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) send(e);
          }}
        />
        {streaming ? (
          <button type="button" onClick={stop}>
            Stop
          </button>
        ) : (
          <button type="submit" disabled={!draft.trim() || !model}>
            Send
          </button>
        )}
      </form>
    </main>
  );
}

function costLine(chunk: Chunk): string {
  const parts = [`${chunk.provider}/${chunk.model}`];
  if (chunk.usage)
    parts.push(`${chunk.usage.promptTokens} in, ${chunk.usage.completionTokens} out tokens`);
  if (chunk.costUsd !== null) parts.push(`$${chunk.costUsd.toFixed(6)}`);
  return parts.join(' · ');
}
