/** The viewer's budget and what is left of it (`viewer`). */
import { useEffect } from 'react';
import { useQuery } from 'urql';
import { usd } from './format';
import { VIEWER, type Viewer } from './session';

const periods = { DAY: 'today', WEEK: 'this week', MONTH: 'this month' } as const;

export function Budget(props: { refresh: number; fallback: Viewer }) {
  const [result, again] = useQuery<{ viewer: Viewer }>({ query: VIEWER });
  useEffect(() => {
    if (props.refresh > 0) again({ requestPolicy: 'network-only' });
  }, [props.refresh, again]);
  const viewer = result.data?.viewer ?? props.fallback;
  const budget = viewer.budget;
  const period = viewer.budgetPeriod ? periods[viewer.budgetPeriod] : 'this month';

  return (
    <section className="panel budget" aria-label="Budget">
      <header className="panel-head">
        <h2>Budget</h2>
        <span className="sub">{viewer.id}</span>
      </header>
      {budget == null ? (
        <p className="budget-line">
          <strong>{usd(viewer.spentUsd)}</strong> spent {period}. This client has no budget.
        </p>
      ) : (
        <>
          <p className="budget-line">
            <strong>{usd(Math.max(budget - viewer.spentUsd, 0))}</strong> left of {usd(budget)}{' '}
            {period}
          </p>
          <div
            className={`meter big ${viewer.spentUsd >= budget ? 'over' : viewer.spentUsd >= budget * 0.8 ? 'near' : ''}`}
            role="progressbar"
            aria-valuemin={0}
            aria-valuemax={budget}
            aria-valuenow={viewer.spentUsd}
          >
            <div style={{ width: `${Math.min((viewer.spentUsd / budget) * 100, 100)}%` }} />
          </div>
          <p className="sub">{usd(viewer.spentUsd)} spent</p>
        </>
      )}
    </section>
  );
}
