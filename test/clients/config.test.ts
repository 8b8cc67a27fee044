/** The settings of this feature in conduit.yaml: checked strictly, errors named by path. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const problemsOf = (raw: Record<string, unknown>): string[] => {
  try {
    parseConfig({ providers: {}, ...raw }, {});
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('runtime client settings', () => {
  it('takes the defaults and an expiry with an offset', () => {
    const config = parseConfig(
      { providers: {}, clients: [{ id: 'a', key: 'k', expiresAt: '2027-01-31T00:00:00+01:00' }] },
      {},
    );
    expect(config.alerts.keyExpiryWarningDays).toBe(3);
    expect(config.runtimeClients.pollIntervalMs).toBe(500);
    expect(config.clients[0]!.expiresAt).toBe('2027-01-31T00:00:00+01:00');
  });

  it('names the path of a bad expiry, a bad warning window and an unknown key', () => {
    expect(problemsOf({ clients: [{ id: 'a', key: 'k', expiresAt: 'next week' }] })).toEqual([
      expect.stringMatching(/^clients\[0\]\.expiresAt: /),
    ]);
    expect(problemsOf({ alerts: { keyExpiryWarningDays: 0 } })).toEqual([
      expect.stringMatching(/^alerts\.keyExpiryWarningDays: /),
    ]);
    expect(problemsOf({ runtimeClients: { pollMs: 10 } })).toEqual([
      'runtimeClients.pollMs: unknown key (is it a typo?)',
    ]);
  });
});
