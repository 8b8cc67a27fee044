/** The `requestLog` settings: defaults, a client's override, and a bad pattern named. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

const base = { providers: { echo: { type: 'echo' } } };

describe('requestLog settings', () => {
  it('is off by default, with its defaults', () => {
    expect(parseConfig(base, {}).requestLog).toEqual({
      enabled: false,
      retentionDays: 7,
      maxBodyBytes: 65536,
      redact: [],
      maxQueue: 10000,
      sweepIntervalMs: 60000,
    });
  });

  it('takes a client override', () => {
    const config = parseConfig(
      { ...base, clients: [{ id: 'a', key: 'ck-a-0000000001', requestLog: { enabled: true } }] },
      {},
    );
    expect(config.clients[0]!.requestLog).toEqual({ enabled: true });
  });

  it('names a redact pattern that is no regular expression', () => {
    expect(() => parseConfig({ ...base, requestLog: { redact: ['ok', '([a-z'] } }, {})).toThrow(
      /requestLog\.redact\[1\]: is not a regular expression/,
    );
  });
});
