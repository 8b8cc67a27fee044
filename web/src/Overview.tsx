/** Spend, requests, tokens, cache, errors and latency over the chosen range: figures, charts, tables. */
import { useMemo } from 'react';
import { useQuery } from 'urql';
import { Chart, type Series } from './Chart';
import { count, ms, percent, usd } from './format';
import { Notice } from './Notice';
import {
  fillBuckets,
  USAGE,
  windowOf,
  type Bucket,
  type Group,
  type Range,
  type UsageData,
} from './usage';

export function Overview(props: {
  admin: boolean;
  client: string;
  range: Range;
  bucket: Bucket;
  /** Changes when the page wants fresh figures (a finished request came in). */
  refresh: number;
}) {
  const { admin, client, range, bucket, refresh } = props;
  // `refresh` is a dependency on purpose: a new window, so the query runs again.
  const span = useMemo(() => windowOf(range, bucket), [range, bucket, refresh]);
  const [result] = useQuery<UsageData>({
    query: USAGE,
    variables: {
      filter: {
        from: span.from.toISOString(),
        to: span.to.toISOString(),
        ...(client && { client }),
      },
      bucket: [bucket],
      admin,
    },
  });
  const { data, fetching, error } = result;

  const charts = useMemo(() => {
    if (!data) return null;
    const { times, groups } = fillBuckets(data.series.groups, bucket, span);
    const pick = (f: (g: (typeof groups)[number]) => number | null) => groups.map(f) as number[];
    return {
      times,
      spend: [{ label: 'Spend', color: '#4f46e5', values: pick((g) => g.costUsd), bars: true }],
      requests: [
        { label: 'Requests', color: '#0ea5e9', values: pick((g) => g.requests), bars: true },
        { label: 'Errors', color: '#e11d48', values: pick((g) => g.errors), bars: true },
      ],
      tokens: [
        { label: 'Prompt', color: '#14b8a6', values: pick((g) => g.promptTokens) },
        { label: 'Completion', color: '#f59e0b', values: pick((g) => g.completionTokens) },
      ],
      latency: [
        { label: 'p50', color: '#6366f1', values: pick((g) => g.latencyP50Ms), measure: true },
        { label: 'p95', color: '#db2777', values: pick((g) => g.latencyP95Ms), measure: true },
      ],
    } satisfies Record<string, Series[] | number[]>;
  }, [data, bucket, span]);

  if (error && !data) {
    return <Notice tone="error">Usage could not be loaded: {describe(error)}</Notice>;
  }
  if (!data) return <Notice tone="quiet">Loading usage…</Notice>;

  const t = data.totals;
  const daily = bucket === 'DAY';
  return (
    <section className="overview" aria-busy={fetching}>
      <div className="figures">
        <Figure label="Spend" value={usd(t.costUsd)} />
        <Figure label="Requests" value={count(t.requests)} />
        <Figure
          label="Tokens"
          value={count(t.promptTokens + t.completionTokens)}
          detail={`${count(t.promptTokens)} in · ${count(t.completionTokens)} out`}
        />
        <Figure
          label="Cache hits"
          value={count(t.cacheHits)}
          detail={`${percent(t.cacheHits, t.requests)} · saved ${usd(t.savedUsd)}`}
        />
        <Figure
          label="Errors"
          value={count(t.errors)}
          detail={percent(t.errors, t.requests)}
          tone={t.errors > 0 ? 'bad' : undefined}
        />
        <Figure
          label="Latency"
          value={ms(t.latencyP50Ms)}
          detail={`p50 · p95 ${ms(t.latencyP95Ms)}`}
        />
      </div>

      {t.requests === 0 ? (
        <Notice tone="quiet">
          No requests in this range{props.client ? ` for ${props.client}` : ''}. Once requests go
          through Conduit, their spend, tokens and latency show here.
        </Notice>
      ) : (
        charts && (
          <>
            <div className="charts">
              <Chart
                title="Spend (USD)"
                times={charts.times}
                series={charts.spend}
                format={usd}
                daily={daily}
              />
              <Chart
                title="Requests and errors"
                times={charts.times}
                series={charts.requests}
                format={count}
                daily={daily}
              />
              <Chart
                title="Tokens"
                times={charts.times}
                series={charts.tokens}
                format={count}
                daily={daily}
              />
              <Chart
                title="Latency"
                times={charts.times}
                series={charts.latency}
                format={ms}
                daily={daily}
              />
            </div>
            <div className="tables">
              <Breakdown
                title="By model"
                name="Model"
                groups={data.byModel.groups}
                label={(g) => g.model}
              />
              <Breakdown
                title="By provider"
                name="Provider"
                groups={data.byProvider.groups}
                label={(g) => g.provider}
              />
              {data.byClient && (
                <Breakdown
                  title="By client"
                  name="Client"
                  groups={data.byClient.groups}
                  label={(g) => g.client?.id}
                />
              )}
              <Breakdown
                title="By user"
                name="User"
                groups={data.byUser.groups}
                label={(g) => g.user ?? '(none given)'}
              />
            </div>
          </>
        )
      )}
    </section>
  );
}

function Figure(props: { label: string; value: string; detail?: string; tone?: 'bad' }) {
  return (
    <div className={`figure ${props.tone ?? ''}`}>
      <div className="figure-label">{props.label}</div>
      <div className="figure-value">{props.value}</div>
      {props.detail && <div className="figure-detail">{props.detail}</div>}
    </div>
  );
}

function Breakdown(props: {
  title: string;
  name: string;
  groups: Group[];
  label: (g: Group) => string | null | undefined;
}) {
  const rows = [...props.groups].sort((a, b) => b.costUsd - a.costUsd || b.requests - a.requests);
  return (
    <div className="panel">
      <h3>{props.title}</h3>
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th>{props.name}</th>
              <th className="num">Requests</th>
              <th className="num">Tokens</th>
              <th className="num">Spend</th>
              <th className="num">Errors</th>
              <th className="num">p95</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((g, i) => (
              <tr key={`${props.label(g) ?? ''}-${i}`}>
                <td className="name">{props.label(g) ?? '—'}</td>
                <td className="num">{count(g.requests)}</td>
                <td className="num">{count(g.promptTokens + g.completionTokens)}</td>
                <td className="num">{usd(g.costUsd)}</td>
                <td className="num">{g.errors > 0 ? count(g.errors) : '—'}</td>
                <td className="num">{ms(g.latencyP95Ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function describe(error: {
  networkError?: Error;
  graphQLErrors: { message: string }[];
}): string {
  if (error.networkError) return 'Conduit cannot be reached. Is the server running?';
  return error.graphQLErrors.map((e) => e.message).join('; ') || 'unknown error';
}
