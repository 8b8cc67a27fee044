/** One logged request, opened from the live feed: what was asked, what was answered, and how. */
import { useQuery } from 'urql';
import { ms, usd } from './format';
import { Notice } from './Notice';

export const REQUEST = /* GraphQL */ `
  query LoggedRequest($id: ID!) {
    request(id: $id) {
      id
      time
      clientId
      user
      alias
      provider
      model
      route
      status
      errorCode
      cacheStatus
      stream
      latencyMs
      ttftMs
      promptTokens
      completionTokens
      costUsd
      finishReason
      prompt
      parameters
      answer
      toolCalls {
        id
        name
        arguments
      }
      truncated
      bodiesDropped
      attempts {
        provider
        model
        status
        errorKind
        error
        latencyMs
      }
    }
  }
`;

interface LoggedRequest {
  id: string;
  time: string;
  clientId: string;
  user: string | null;
  alias: string;
  provider: string | null;
  model: string | null;
  route: string;
  status: 'OK' | 'ERROR';
  errorCode: string | null;
  cacheStatus: 'MISS' | 'EXACT' | 'SEMANTIC';
  stream: boolean;
  latencyMs: number;
  ttftMs: number | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  finishReason: string | null;
  prompt: string | null;
  parameters: string | null;
  answer: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
  truncated: string[];
  bodiesDropped: boolean;
  attempts: {
    provider: string;
    model: string;
    status: 'OK' | 'ERROR';
    errorKind: string | null;
    error: string | null;
    latencyMs: number;
  }[];
}

/** JSON text laid out for reading; as it is when it does not parse (a cut body). */
function pretty(text: string | null): string {
  if (text === null) return '—';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function Body(props: { title: string; text: string | null; cut: boolean }) {
  return (
    <div className="body-part">
      <h3>
        {props.title}
        {props.cut && <span className="tag warn">truncated</span>}
      </h3>
      <pre>{props.text ?? '—'}</pre>
    </div>
  );
}

export function RequestView(props: { id: string; onClose: () => void }) {
  const [result] = useQuery<{ request: LoggedRequest | null }>({
    query: REQUEST,
    variables: { id: props.id },
    requestPolicy: 'network-only',
  });
  const r = result.data?.request;
  return (
    <section className="panel request-view" aria-label="Logged request">
      <header className="panel-head">
        <h2>
          Request <span className="mono">{props.id}</span>
        </h2>
        <button type="button" className="link" onClick={props.onClose}>
          Close
        </button>
      </header>
      {result.fetching ? (
        <Notice tone="quiet">Loading…</Notice>
      ) : result.error ? (
        <Notice tone="error">Could not read the request: {result.error.message}</Notice>
      ) : !r ? (
        <Notice tone="quiet">
          This request is not in the request log (requestLog is off for it, or it has expired).
        </Notice>
      ) : (
        <div className="request-detail">
          <dl className="facts">
            <dt>Client</dt>
            <dd>
              {r.clientId}
              {r.user && ` · ${r.user}`}
            </dd>
            <dt>Model</dt>
            <dd>{r.provider && r.model ? `${r.provider}/${r.model}` : r.alias}</dd>
            <dt>Status</dt>
            <dd>
              {r.status === 'OK' ? (
                <span className="tag ok">ok</span>
              ) : (
                <span className="tag bad">{r.errorCode ?? 'error'}</span>
              )}{' '}
              {r.finishReason && <span className="sub">{r.finishReason.toLowerCase()}</span>}
            </dd>
            <dt>Cache</dt>
            <dd>{r.cacheStatus.toLowerCase()}</dd>
            <dt>Tokens</dt>
            <dd>
              {r.promptTokens} in · {r.completionTokens} out
            </dd>
            <dt>Cost</dt>
            <dd>{usd(r.costUsd)}</dd>
            <dt>Latency</dt>
            <dd>
              {ms(r.latencyMs)}
              {r.stream && ` · first token ${ms(r.ttftMs)}`}
            </dd>
          </dl>
          <h3>Attempts</h3>
          <table className="feed attempts">
            <tbody>
              {r.attempts.map((a, i) => (
                <tr key={i}>
                  <td className="name">
                    {a.provider}/{a.model}
                  </td>
                  <td>
                    <span className={`tag ${a.status === 'OK' ? 'ok' : 'bad'}`}>
                      {a.errorKind ?? 'ok'}
                    </span>
                  </td>
                  <td className="sub">{a.error}</td>
                  <td className="num">{ms(a.latencyMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {r.bodiesDropped ? (
            <Notice tone="quiet">The log lagged: this request was kept without its bodies.</Notice>
          ) : (
            <>
              <Body title="Prompt" text={pretty(r.prompt)} cut={r.truncated.includes('PROMPT')} />
              <Body title="Answer" text={r.answer} cut={r.truncated.includes('ANSWER')} />
              {r.toolCalls.length > 0 && (
                <Body
                  title="Tool calls"
                  text={r.toolCalls.map((c) => `${c.name}(${c.arguments})`).join('\n')}
                  cut={r.truncated.includes('TOOL_CALLS')}
                />
              )}
              <Body
                title="Parameters"
                text={pretty(r.parameters)}
                cut={r.truncated.includes('PARAMETERS')}
              />
            </>
          )}
        </div>
      )}
    </section>
  );
}
