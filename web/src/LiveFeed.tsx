/**
 * Requests as they finish (requestEvents), newest first, without reloading. A row opens its
 * request's log entry (RequestView).
 */
import { useState } from 'react';
import { useSubscription } from 'urql';
import { clock, count, ms, usd } from './format';
import { Notice } from './Notice';
import { RequestView } from './RequestView';

export const REQUEST_EVENTS = /* GraphQL */ `
  subscription RequestEvents($filter: RequestEventFilter) {
    requestEvents(filter: $filter) {
      id
      time
      clientId
      user
      alias
      provider
      model
      status
      errorCode
      promptTokens
      completionTokens
      costUsd
      latencyMs
      ttftMs
      cacheHit
      attempts
    }
  }
`;

export interface RequestEvent {
  id: string;
  time: string;
  clientId: string;
  user: string | null;
  alias: string;
  provider: string | null;
  model: string | null;
  status: 'OK' | 'ERROR';
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  cacheHit: boolean;
  attempts: number;
}

const KEEP = 100;

export function LiveFeed(props: {
  client: string;
  showClient: boolean;
  connected: boolean;
  onEvent: (event: RequestEvent) => void;
}) {
  const { client, showClient, connected, onEvent } = props;
  const [result] = useSubscription<{ requestEvents: RequestEvent }, RequestEvent[]>(
    { query: REQUEST_EVENTS, variables: { filter: client ? { clientId: client } : {} } },
    (feed = [], data) => {
      onEvent(data.requestEvents);
      return [data.requestEvents, ...feed].slice(0, KEEP);
    },
  );
  const feed = result.data ?? [];
  const [open, setOpen] = useState<string>();

  return (
    <section className="panel live" aria-label="Live requests">
      <header className="panel-head">
        <h2>Live requests</h2>
        <span className={`pulse ${connected ? 'on' : 'off'}`}>
          {connected ? 'Live' : 'Reconnecting…'}
        </span>
      </header>
      {result.error ? (
        <Notice tone="error">The live feed stopped: {result.error.message}</Notice>
      ) : feed.length === 0 ? (
        <Notice tone="quiet">
          Waiting for requests… each one shows here the moment it finishes.
        </Notice>
      ) : (
        <div className="scroll">
          <table className="feed">
            <thead>
              <tr>
                <th>Time</th>
                {showClient && <th>Client</th>}
                <th>Model</th>
                <th>Status</th>
                <th className="num hide-narrow">Tokens</th>
                <th className="num">Cost</th>
                <th className="num">Latency</th>
                <th className="num hide-narrow">TTFT</th>
              </tr>
            </thead>
            <tbody>
              {feed.map((e) => (
                <tr
                  key={e.id}
                  data-request-id={e.id}
                  className={`opens${e.id === open ? ' open' : ''}`}
                  tabIndex={0}
                  title="Open this request"
                  onClick={() => setOpen(e.id)}
                  onKeyDown={(key) => key.key === 'Enter' && setOpen(e.id)}
                >
                  <td className="mono">{clock(e.time)}</td>
                  {showClient && (
                    <td className="name">
                      {e.clientId}
                      {e.user && <span className="sub">{e.user}</span>}
                    </td>
                  )}
                  <td className="name">
                    {e.provider && e.model ? `${e.provider}/${e.model}` : e.alias}
                    {e.attempts > 1 && <span className="sub">{e.attempts} attempts</span>}
                  </td>
                  <td>
                    {e.status === 'OK' ? (
                      <span className={`tag ${e.cacheHit ? 'cached' : 'ok'}`}>
                        {e.cacheHit ? 'cache hit' : 'ok'}
                      </span>
                    ) : (
                      <span className="tag bad">{e.errorCode ?? 'error'}</span>
                    )}
                  </td>
                  <td className="num hide-narrow">{count(e.promptTokens + e.completionTokens)}</td>
                  <td className="num">{usd(e.costUsd)}</td>
                  <td className="num">{ms(e.latencyMs)}</td>
                  <td className="num hide-narrow">{ms(e.ttftMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open && <RequestView id={open} onClose={() => setOpen(undefined)} />}
    </section>
  );
}
