import { describe, expect, it } from 'vitest';
import { createRedis, reconnectDelay } from '../../src/state/redis.js';
import { freePort } from '../helpers/redis.js';

describe('createRedis', () => {
  it('starts without Redis, fails commands at once instead of queueing them, and closes', async () => {
    const warnings: string[] = [];
    const log = { info: () => {}, warn: (_: object, msg: string) => warnings.push(msg) };
    const redis = await createRedis(`redis://:secret@127.0.0.1:${await freePort()}`, log);
    expect(redis.ready).toBe(false);
    await expect(redis.client.get('k')).rejects.toThrow(/offline/i);
    expect(warnings).toEqual(['Redis unavailable; falling back until it is back']);
    await redis.close();
    expect(redis.client.isOpen).toBe(false);
  });

  it('backs off exponentially up to a bound', () => {
    expect(reconnectDelay(0, 2000)).toBeLessThan(100);
    expect(reconnectDelay(3, 2000)).toBeGreaterThanOrEqual(400);
    expect(reconnectDelay(30, 2000)).toBeGreaterThanOrEqual(2000);
    expect(reconnectDelay(30, 2000)).toBeLessThan(2050);
  });
});
