/**
 * The answer cache is bounded by bytes, end to end: an answer over `cache.maxEntryBytes` is
 * answered but never stored (the same request misses again), a small one is stored as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

const ask = async (gw: TestConduit, content: string) => {
  const response = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ck-size' },
    body: JSON.stringify({ model: 'echo/echo', messages: [{ role: 'user', content }] }),
  });
  const body = (await response.json()) as { choices: { message: { content: string } }[] };
  return {
    cache: response.headers.get('x-conduit-cache'),
    content: body.choices[0]!.message.content,
  };
};

describe('cache.maxEntryBytes', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({
      providers: { echo: { type: 'echo' } },
      clients: [{ id: 'size', key: 'ck-size' }],
      cache: { maxEntryBytes: 4096 },
    });
  });
  afterAll(() => gw?.stop());

  it('answers a large answer every time but never stores it', async () => {
    const large = 'word '.repeat(2000).trim();
    expect(await ask(gw, large)).toEqual({ cache: 'MISS', content: large });
    expect(await ask(gw, large)).toEqual({ cache: 'MISS', content: large });
  });

  it('still stores a small answer', async () => {
    expect(await ask(gw, 'small answer')).toMatchObject({ cache: 'MISS' });
    expect(await ask(gw, 'small answer')).toMatchObject({ cache: 'HIT' });
  });
});
