import { describe, expect, it, vi } from 'vitest';
import { createCooldowns, DISABLED, type Cooldowns } from '../../src/state/cooldowns.js';
import { createRedis } from '../../src/state/redis.js';
import { onDispose } from '../helpers/dispose.js';
import { describeRedis, redisUrl, useRedis } from '../helpers/redis.js';
import { cooldownSuite } from '../helpers/store-suite.js';

describe('Cooldowns in memory', () => {
  cooldownSuite(() => createCooldowns());

  it('ends a disabled mark after its time, or when the key is enabled', async () => {
    const cooldowns = createCooldowns();
    await cooldowns.disable('p', 0, 30);
    await cooldowns.disable('p', 1);
    expect(await cooldowns.poolStatus('p', 2)).toEqual([DISABLED, DISABLED]);
    await cooldowns.enable('p', 1);
    expect(await cooldowns.coolingUntil('p', 1)).toBe(0);
    await vi.waitFor(async () => expect(await cooldowns.coolingUntil('p', 0)).toBe(0));
  });

  it('changes the version of a provider on every change to its keys', async () => {
    const cooldowns = createCooldowns();
    const heard: string[] = [];
    cooldowns.onChange((provider) => heard.push(provider));
    const before = cooldowns.version('p');
    await cooldowns.cool('p', 0, 60_000);
    const cooled = cooldowns.version('p');
    expect(cooled).not.toBe(before);
    expect(cooldowns.version('q')).toBe(0);
    await cooldowns.disable('p', 1);
    await cooldowns.enable('p', 1);
    await cooldowns.reset();
    expect(heard).toEqual(['p', 'p', 'p', '*']);
    expect(cooldowns.watching).toBe(true);
  });
});

describeRedis('Cooldowns in Redis', () => {
  const shared = useRedis();
  cooldownSuite((ns) =>
    createCooldowns({ redis: shared.redis.client, prefix: `${shared.prefix}:${ns}` }),
  );

  /** A cooldowns store on a connection of its own, as another replica has. */
  async function replica(prefix: string): Promise<Cooldowns> {
    const redis = await createRedis(redisUrl);
    const cooldowns = createCooldowns({ redis: redis.client, prefix });
    onDispose(async () => {
      await cooldowns.close();
      await redis.close();
    });
    await vi.waitFor(() => expect(cooldowns.watching).toBe(true), { timeout: 3000 });
    return cooldowns;
  }

  /** Resolves with the provider named by the next change `cooldowns` hears of. */
  const nextChange = (cooldowns: Cooldowns) =>
    new Promise<string>((resolve) => {
      const stop = cooldowns.onChange((provider) => {
        stop();
        resolve(provider);
      });
    });

  it('tells every replica of each change to a pool, through pub/sub', async () => {
    const prefix = `${shared.prefix}:pubsub`;
    const [one, two] = [await replica(prefix), await replica(prefix)];

    let heard = nextChange(two);
    const before = two.version('p');
    await one.cool('p', 0, 60_000);
    expect(await heard).toBe('p');
    expect(two.version('p')).not.toBe(before);
    expect(await two.coolingUntil('p', 0)).toBeGreaterThan(Date.now());

    heard = nextChange(two);
    await one.disable('p', 1, 60_000);
    expect(await heard).toBe('p');
    expect(await two.coolingUntil('p', 1)).toBe(DISABLED);

    heard = nextChange(two);
    await one.enable('p', 1);
    expect(await heard).toBe('p');
    expect(await two.coolingUntil('p', 1)).toBe(0);

    heard = nextChange(two);
    await one.reset();
    expect(await heard).toBe('*');
  });

  it('ends a disabled mark after its time', async () => {
    const cooldowns = createCooldowns({
      redis: shared.redis.client,
      prefix: `${shared.prefix}:ttl`,
    });
    onDispose(() => cooldowns.close());
    await cooldowns.disable('p', 0, 50);
    expect(await cooldowns.coolingUntil('p', 0)).toBe(DISABLED);
    await vi.waitFor(async () => expect(await cooldowns.coolingUntil('p', 0)).toBe(0));
  });
});
