import { describe } from 'vitest';
import { createCooldowns } from '../../src/state/cooldowns.js';
import { describeRedis, useRedis } from '../helpers/redis.js';
import { cooldownSuite } from '../helpers/store-suite.js';

describe('Cooldowns in memory', () => {
  cooldownSuite(() => createCooldowns());
});

describeRedis('Cooldowns in Redis', () => {
  const shared = useRedis();
  cooldownSuite((ns) =>
    createCooldowns({ redis: shared.redis.client, prefix: `${shared.prefix}:${ns}` }),
  );
});
