/**
 * A gateway on a redis-server of its own, killed mid-test: requests are still served, the
 * in-memory insurance limiter still limits, logs and metrics say so; when the server is back on
 * the same port, limits and cache live in Redis again.
 */
import { once } from 'node:events';
import { createClient } from 'redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createOpenAIFake } from '../fakes/openai.js';
import type { ProviderFake } from '../fakes/types.js';
import { gql, startConduit, type TestConduit } from '../helpers/conduit.js';
import { describeRedis, freePort, startRedisServer, type RedisServer } from '../helpers/redis.js';

const COMPLETE = /* GraphQL */ `
  mutation ($input: CompletionInput!) {
    complete(input: $input) {
      content
      cached
    }
  }
`;

describeRedis(
  'a gateway whose Redis goes away and comes back',
  () => {
    const servers: RedisServer[] = [];
    let url: string;
    let fake: ProviderFake;
    let gw: TestConduit;
    /** The test's own connection, to look at what the gateway stored. */
    let probe: ReturnType<typeof createClient>;

    beforeAll(async () => {
      const port = await freePort();
      servers.push(await startRedisServer(port));
      url = `redis://127.0.0.1:${port}`;
      fake = await createOpenAIFake();
      gw = await startConduit({
        redis: { url },
        providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys: ['sk-up'] } },
        clients: [{ id: 'app', key: 'key-app', rateLimits: [{ requests: 3, perSeconds: 60 }] }],
        retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
      });
    });
    afterAll(async () => {
      await gw?.stop();
      await fake?.close();
      if (probe?.isOpen) probe.destroy();
      await Promise.all(servers.map((server) => server.kill()));
    });

    const ask = async (content: string) =>
      (
        await gql(
          gw.graphqlUrl,
          COMPLETE,
          { input: { model: 'up/gpt-4o-mini', messages: [{ role: 'USER', content }] } },
          { authorization: 'Bearer key-app' },
        )
      ).body;
    const codeOf = (body: { errors?: any[] }) => body.errors?.[0]?.extensions?.code ?? 'OK';
    const counter = 'conduit:rl:client:app:requests:3/60s:app';
    const connect = async () => {
      probe = createClient({ url, socket: { reconnectStrategy: false } });
      probe.on('error', () => {});
      await probe.connect();
    };
    const storeErrors = async (store: string) => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const line = new RegExp(
        `^conduit_state_store_errors_total\\{store="${store}"\\} (\\d+)`,
        'm',
      );
      return Number(line.exec(text)?.[1] ?? 0);
    };

    it('serves and limits in memory during the outage, and uses Redis again after it', async () => {
      const redis = gw.conduit.services.infra.redis!;
      expect(redis.ready).toBe(true);
      await connect();

      // Up: the limit counts in Redis, answers are cached there.
      expect(await ask('before the outage')).toMatchObject({
        data: { complete: { cached: false } },
      });
      expect(await ask('before the outage')).toMatchObject({
        data: { complete: { cached: true } },
      });
      expect(await probe.get(counter)).toBe('2');
      expect(await storeErrors('limits')).toBe(0);

      // Down.
      const noticed = once(redis.client, 'error');
      probe.destroy();
      await servers.pop()!.kill();
      await noticed;
      expect(redis.ready).toBe(false);

      // Still serving (the cache misses), still limiting: the insurance counts afresh, per process.
      const calls = fake.upstream.calls.length;
      const during = [];
      for (let i = 0; i < 4; i++) during.push(await ask('before the outage'));
      expect(during.slice(0, 3).map((body) => body.data.complete)).toEqual(
        Array(3).fill({ content: 'before the outage', cached: false }),
      );
      expect(fake.upstream.calls.length).toBe(calls + 3);
      expect(codeOf(during[3]!)).toBe('RATE_LIMITED');
      expect(during[3]!.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(50);
      const logs = gw.logs.join('\n');
      expect(logs).toContain('Redis unavailable; falling back until it is back');
      expect(logs).toContain('rate limits counted in memory while Redis is away');
      expect(await storeErrors('limits')).toBeGreaterThanOrEqual(4);
      expect(await storeErrors('cache')).toBeGreaterThanOrEqual(1);

      // Back, on the same port, empty: Redis counts and caches again.
      servers.push(await startRedisServer(Number(new URL(url).port)));
      await redis.whenReady();
      expect(gw.logs.join('\n')).toContain('Redis connection restored');
      const errorsBefore = await storeErrors('limits');
      expect(codeOf(await ask('after the outage'))).toBe('OK');
      expect(await ask('after the outage')).toMatchObject({ data: { complete: { cached: true } } });
      await connect();
      expect(await probe.get(counter)).toBe('2');
      expect(await storeErrors('limits')).toBe(errorsBefore);
    });
  },
  { spawnsServers: true },
);
