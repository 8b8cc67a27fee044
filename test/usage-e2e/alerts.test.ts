/**
 * Dropped usage records are alerted, never silently, and never as a storm: the first drop is
 * POSTed at once, the rest of the window is summed into one more POST (at the latest when
 * alerts are settled at shutdown).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createAlerts } from '../../src/alerts.js';
import { startWebhook } from './harness.js';

describe('usage_dropped alerts', () => {
  it('sends the first drop at once and sums the following ones into one alert', async () => {
    const webhook = await startWebhook();
    const lines: string[] = [];
    const log = pino(
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString());
          callback();
        },
      }),
    );
    const alerts = createAlerts(webhook.url, log, { coalesceMs: 60_000 });

    for (let i = 0; i < 500; i++) alerts.send({ type: 'usage_dropped', dropped: 1 });
    alerts.send({
      type: 'budget',
      clientId: 'c',
      threshold: 1,
      budgetUsd: 1,
      spentUsd: 1,
      period: 'p',
    });
    await webhook.received(2);
    expect(webhook.posts.map((p) => [p.body.type, p.body.dropped])).toEqual([
      ['usage_dropped', 1],
      ['budget', undefined],
    ]);

    await alerts.settled();
    expect(webhook.posts.map((p) => [p.body.type, p.body.dropped])).toEqual([
      ['usage_dropped', 1],
      ['budget', undefined],
      ['usage_dropped', 499],
    ]);
    expect(lines.filter((l) => l.includes('"alert: usage_dropped"'))).toHaveLength(2);
  });

  it('sends the summed drops when the window ends, then opens a new one', async () => {
    const webhook = await startWebhook();
    const alerts = createAlerts(webhook.url, pino({ level: 'silent' }), { coalesceMs: 50 });
    alerts.send({ type: 'usage_dropped', dropped: 2 });
    alerts.send({ type: 'usage_dropped', dropped: 3 });
    alerts.send({ type: 'usage_dropped', dropped: 4 });
    await webhook.received(2);
    expect(webhook.posts.map((p) => p.body.dropped)).toEqual([2, 7]);
    alerts.send({ type: 'usage_dropped', dropped: 1 });
    await alerts.settled();
    expect(webhook.posts.map((p) => p.body.dropped)).toEqual([2, 7, 1]);
  });
});
