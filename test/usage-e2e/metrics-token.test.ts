/**
 * `metrics.token`: with it set, /metrics answers only a scrape that sends it as a bearer token
 * (401 and no metrics text otherwise); the token comes from `${VAR}`; without it, /metrics is
 * open as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const scrape = async (gw: TestConduit, authorization?: string) => {
  const response = await fetch(`${gw.url}/metrics`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: response.status, text: await response.text() };
};

describe('/metrics with metrics.token', () => {
  let gw: TestConduit;
  const token = 'scrape-token-7f3a9c';
  beforeAll(async () => {
    gw = await startConduit(
      { providers: { echo: { type: 'echo' } }, metrics: { token: '${METRICS_TOKEN}' } },
      { METRICS_TOKEN: token },
    );
  });
  afterAll(() => gw?.stop());

  it('answers the right bearer token', async () => {
    const { status, text } = await scrape(gw, `Bearer ${token}`);
    expect(status).toBe(200);
    expect(text).toContain('conduit_in_flight');
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', 'Bearer scrape-token-7f3a9d'],
    ['a longer token', `Bearer ${token}x`],
    ['a prefix of it', `Bearer ${token.slice(0, 5)}`],
    ['the token without the scheme', token],
    ['an empty bearer', 'Bearer '],
  ])('refuses %s with 401 and no metrics', async (_what, authorization) => {
    const { status, text } = await scrape(gw, authorization);
    expect(status).toBe(401);
    expect(text).not.toContain('conduit_');
    expect(text).not.toContain(token);
  });

  it('keeps the token out of the logs', () => {
    expect(gw.logs.join('')).not.toContain(token);
  });

  it('takes a new token on reload, and the old one stops working', async () => {
    const raw = { database: { url: 'sqlite::memory:' }, providers: { echo: { type: 'echo' } } };
    await gw.conduit.reload(parseConfig({ ...raw, metrics: { token: 'rotated-token' } }, {}));
    expect((await scrape(gw, `Bearer ${token}`)).status).toBe(401);
    expect((await scrape(gw, 'Bearer rotated-token')).status).toBe(200);
  });
});

describe('/metrics without metrics.token', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({ providers: { echo: { type: 'echo' } } });
  });
  afterAll(() => gw?.stop());

  it('is open, as before', async () => {
    const { status, text } = await scrape(gw);
    expect(status).toBe(200);
    expect(text).toContain('conduit_in_flight');
  });
});
