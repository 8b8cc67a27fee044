/**
 * What grows with caller input stays bounded: made-up model names (echo and providers without a
 * `models` list answer any) make targets, and each target a breaker and a latency; made-up end
 * users make rate-limit windows; every GraphQL source text, authenticated or not, was kept
 * parsed. Past its bound each forgets the least recently used; names too long to key anything
 * are refused.
 */
import { setFlagsFromString } from 'node:v8';
import { parse } from 'graphql';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Breakers } from '../../src/gateway/call.js';
import { UpstreamError } from '../../src/gateway/errors.js';
import { createDocumentCaches } from '../../src/graphql/document-cache.js';
import { LatencyTracker } from '../../src/gateway/route.js';
import type { Target } from '../../src/gateway/types.js';
import { createLimiter } from '../../src/state/limits.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const target = (i: number): Target => ({ provider: 'echo', model: `made-up-${i}`, weight: 1 });

describe('per-target state', () => {
  it('remembers the latency of at most 10,000 targets', () => {
    const latency = new LatencyTracker();
    for (let i = 0; i <= 10_000; i++) latency.observe(target(i), 5);
    expect(latency.latency(target(0))).toBeUndefined();
    expect(latency.latency(target(10_000))).toBe(5);
  });

  it('keeps at most 10,000 circuit breakers', async () => {
    const breakers = new Breakers(1, 60_000);
    const failure = new UpstreamError({ kind: 'server', message: 'down' });
    await expect(breakers.for(target(0)).execute(() => Promise.reject(failure))).rejects.toBe(
      failure,
    );
    expect(breakers.isOpen(target(0))).toBe(true);
    for (let i = 1; i <= 10_000; i++) breakers.for(target(i));
    // The open breaker was the least recently used: forgotten, with its mark.
    expect(breakers.isOpen(target(0))).toBe(false);
    expect(breakers.openCount()).toBe(0);
  });
});

describe('rate-limit windows in memory', () => {
  it('count at most 100,000 keys per window', () => {
    const limiter = createLimiter({ prefix: 'x', limits: [{ requests: 1, perSeconds: 3600 }] });
    const one = { requests: 1, tokens: 0 };
    expect(limiter.check('client:victim', one)).toMatchObject({ ok: true });
    expect(limiter.check('client:victim', one)).toMatchObject({ ok: false });
    for (let i = 0; i < 100_000; i++) limiter.check(`client:made-up-${i}`, one);
    expect(limiter.check('client:victim', one)).toMatchObject({ ok: true });
    expect(limiter.check('client:made-up-99999', one)).toMatchObject({ ok: false });
  });
});

describe('names too long to key anything', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'c', key: 'ck-bounds' }],
    });
  });
  afterAll(() => gw?.stop());

  const chat = async (body: Record<string, unknown>) => {
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ck-bounds' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { message: string; param: string | null } },
    };
  };

  it('refuses a model name over 256 characters, naming it', async () => {
    expect((await chat({ model: `echo/${'m'.repeat(251)}` })).status).toBe(200);
    const refused = await chat({ model: `echo/${'m'.repeat(252)}` });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ param: 'model' });
    expect(refused.body.error?.message).toContain('at most 256 characters');
  });

  it('refuses a user over 256 characters, naming it', async () => {
    expect((await chat({ model: 'echo/echo', user: 'u'.repeat(256) })).status).toBe(200);
    const refused = await chat({ model: 'echo/echo', user: 'u'.repeat(257) });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ param: 'user' });
    expect(refused.body.error?.message).toContain('user is at most 256 characters');
  });
});

describe('GraphQL documents kept parsed', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'c', key: 'ck-bounds' }],
    });
  });
  afterAll(() => gw?.stop());

  it('are kept up to 16 MiB of source, none over 256 KiB', () => {
    const { documentCache } = createDocumentCaches();
    const doc = parse('{ __typename }');
    const source = (i: number, size: number) => `{ __typename } # ${i}`.padEnd(size, 'x');
    documentCache.set(source(0, 256 * 1024 + 1), doc);
    expect(documentCache.get(source(0, 256 * 1024 + 1))).toBeUndefined();
    for (let i = 0; i < 100; i++) documentCache.set(source(i, 200 * 1024), doc);
    let kept = 0;
    for (let i = 0; i < 100; i++) if (documentCache.get(source(i, 200 * 1024))) kept++;
    expect(kept * 200 * 1024).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(documentCache.get(source(99, 200 * 1024))).toBe(doc);
  });

  it('stay within a bounded heap, even for callers with no key', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const padding = 'x'.repeat(1024 * 1024);
    const send = async (i: number) => {
      const response = await fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `query { __typename } # ${i}${padding}` }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    await send(-1);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 24; i++) expect(await send(i)).toBe(401);
    gc();
    const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
    // Kept, the 24 sources alone would be 25 MB (Yoga kept 1,024 of them, 2.2 MB each).
    expect(grownMb).toBeLessThan(20);
  }, 60_000);
});
