/** What the overview asks of the `usage` query, and the time buckets of its charts. */
export const USAGE = /* GraphQL */ `
  query Usage($filter: UsageFilter, $bucket: [UsageDimension!], $admin: Boolean!) {
    totals: usage(filter: $filter) {
      ...Totals
    }
    series: usage(filter: $filter, groupBy: $bucket) {
      groups {
        hour
        day
        ...Totals
      }
    }
    byModel: usage(filter: $filter, groupBy: [MODEL]) {
      groups {
        model
        ...Totals
      }
    }
    byProvider: usage(filter: $filter, groupBy: [PROVIDER]) {
      groups {
        provider
        ...Totals
      }
    }
    byClient: usage(filter: $filter, groupBy: [CLIENT]) @include(if: $admin) {
      groups {
        client {
          id
        }
        ...Totals
      }
    }
    byUser: usage(filter: $filter, groupBy: [USER]) {
      groups {
        user
        ...Totals
      }
    }
  }
  fragment Totals on UsageTotals {
    requests
    errors
    cacheHits
    promptTokens
    completionTokens
    costUsd
    savedUsd
    latencyP50Ms
    latencyP95Ms
  }
`;

export interface Totals {
  requests: number;
  errors: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  savedUsd: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

export interface Group extends Totals {
  hour?: string | null;
  day?: string | null;
  model?: string | null;
  provider?: string | null;
  user?: string | null;
  client?: { id: string } | null;
}

export interface UsageData {
  totals: Totals;
  series: { groups: Group[] };
  byModel: { groups: Group[] };
  byProvider: { groups: Group[] };
  byClient?: { groups: Group[] };
  byUser: { groups: Group[] };
}

export interface Range {
  id: string;
  label: string;
  hours: number;
}

export const ranges: Range[] = [
  { id: '24h', label: 'Last 24 hours', hours: 24 },
  { id: '7d', label: 'Last 7 days', hours: 24 * 7 },
  { id: '30d', label: 'Last 30 days', hours: 24 * 30 },
  { id: '90d', label: 'Last 90 days', hours: 24 * 90 },
];

export type Bucket = 'HOUR' | 'DAY';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The range's window, its end rounded up to the next whole bucket so the current one shows. */
export function windowOf(range: Range, bucket: Bucket, now = Date.now()): { from: Date; to: Date } {
  const step = bucket === 'DAY' ? DAY : HOUR;
  const to = Math.ceil((now + 1) / step) * step;
  const from = Math.floor((to - range.hours * HOUR) / step) * step;
  return { from: new Date(from), to: new Date(to) };
}

/** Every bucket of the window, in order, with the group of each (or zeros). */
export function fillBuckets(
  groups: Group[],
  bucket: Bucket,
  window: { from: Date; to: Date },
): { times: number[]; groups: Totals[] } {
  const step = bucket === 'DAY' ? DAY : HOUR;
  const byKey = new Map(groups.map((g) => [bucket === 'DAY' ? g.day : g.hour, g]));
  const times: number[] = [];
  const filled: Totals[] = [];
  for (let t = window.from.getTime(); t < window.to.getTime(); t += step) {
    const iso = new Date(t).toISOString();
    const key = bucket === 'DAY' ? iso.slice(0, 10) : `${iso.slice(0, 13)}:00:00Z`;
    times.push(t / 1000);
    filled.push(byKey.get(key) ?? empty);
  }
  return { times, groups: filled };
}

const empty: Totals = {
  requests: 0,
  errors: 0,
  cacheHits: 0,
  promptTokens: 0,
  completionTokens: 0,
  costUsd: 0,
  savedUsd: 0,
  latencyP50Ms: null,
  latencyP95Ms: null,
};
