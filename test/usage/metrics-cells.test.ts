import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCellHistogram } from '../../src/metrics.js';

describe('the cell histogram', () => {
  it("is scraped as prom-client's own histogram fed the same observations", async () => {
    const buckets = [0.005, 0.01, 0.1, 1];
    const observations: [string, string, number][] = [
      ['openai', 'false', 0.004],
      ['openai', 'false', 0.01],
      ['openai', 'true', 0.5],
      ['anthropic', 'false', 3],
      ['openai', 'false', 0.2],
    ];
    const ours = new Registry();
    const theirs = new Registry();
    const config = {
      name: 'x_seconds',
      help: 'X',
      labelNames: ['provider', 'stream'] as const,
      buckets,
    };
    const cells = createCellHistogram({ ...config, registers: [ours] });
    const reference = new Histogram({ ...config, registers: [theirs] });
    for (const [provider, stream, value] of observations) {
      cells(provider, stream)(value);
      reference.observe({ provider, stream }, value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const json = async (registry: Registry) =>
      JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as unknown;
    expect(await json(ours)).toEqual(await json(theirs));

    const unlabelled = createCellHistogram({
      ...config,
      name: 'y_seconds',
      labelNames: [],
      registers: [ours],
    });
    unlabelled()(0.02);
    expect(await ours.metrics()).toContain(
      'y_seconds_bucket{le="0.1"} 1\ny_seconds_bucket{le="1"} 1\ny_seconds_bucket{le="+Inf"} 1\ny_seconds_sum 0.02\ny_seconds_count 1',
    );
  });
});
