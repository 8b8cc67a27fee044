/**
 * Usage records survive, on SQLite and Postgres: SIGTERM to the real CLI in the middle of
 * traffic loses no record (rows equal answered requests) and a restart reports them all; streamed
 * requests record the upstream's real usage; and (Postgres) while the database refuses
 * connections, records wait in the queue, shown in /metrics, and are written when it is back.
 */
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { expect, it } from 'vitest';
import WebSocket from 'ws';
import { createOpenAIFake } from '../fakes/openai.js';
import { gql, startConduit } from '../helpers/conduit.js';
import {
  createPostgresDatabase,
  describeEachDatabase,
  describePostgres,
  postgresUnavailable,
  postgresUrl,
} from '../helpers/databases.js';
import { onDispose } from '../helpers/dispose.js';
import { createFakeUpstream } from '../helpers/fake-upstream.js';
import { runCli, type CliProcess } from '../helpers/process.js';
import {
  COMPLETE,
  readRows,
  sample,
  startSlowOpenAI,
  startWebhook,
  waitForRows,
  writeConfig,
} from './harness.js';

const PRICE = { input: 0.15e-6, output: 0.6e-6 };

function cliConfig(databaseUrl: string, baseUrl: string): string {
  return writeConfig({
    server: { port: 0, shutdownTimeoutMs: 10_000 },
    database: { url: databaseUrl },
    providers: { up: { type: 'openai', baseUrl, keys: ['sk-up-durability'] } },
    retry: { attempts: 1 },
    logging: { level: 'info' },
  });
}

async function serving(cli: CliProcess): Promise<string> {
  const line = await cli.waitForLine(/Conduit serves/);
  return /(http:\/\/[\d.:]+)\/graphql/.exec(line)![1]!;
}

const input = (content: string) => ({
  input: { model: 'up/gpt-4o-mini', messages: [{ role: 'USER', content }], cache: 'BYPASS' },
});

await describeEachDatabase('usage durability', (makeDatabase) => {
  it('loses no record on SIGTERM mid-traffic, and a restart keeps them all', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    // Every answer takes about 40 ms: some are always in flight.
    const upstream = await startSlowOpenAI(40);
    const cli = runCli(['--config', cliConfig(database.url, upstream.baseUrl)]);
    const url = await serving(cli);

    let answered = 0;
    let answeredAfterSignal = 0;
    let signalled = false;
    let signal!: () => void;
    const enough = new Promise<void>((resolve) => (signal = resolve));
    const loop = async (worker: number) => {
      for (let i = 0; ; i++) {
        try {
          const { status, body } = await gql(`${url}/graphql`, COMPLETE, input(`${worker}-${i}`));
          if (status !== 200 || !body.data?.complete) return;
        } catch {
          return; // refused: the server has closed
        }
        answered += 1;
        if (signalled) answeredAfterSignal += 1;
        if (answered === 30) signal();
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => loop(w));
    await enough;
    signalled = true;
    cli.child.kill('SIGTERM');
    await Promise.all(workers);
    expect(await cli.exited).toBe(0);

    expect(answeredAfterSignal).toBeGreaterThan(0);
    const rows = await readRows(database.url);
    expect(rows).toHaveLength(answered);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);

    // A new Conduit on the same database reports every one of them.
    const again = await startConduit({
      database: { url: database.url },
      providers: { up: { type: 'openai', baseUrl: upstream.baseUrl, keys: ['sk-up'] } },
    });
    const { body } = await gql(
      again.graphqlUrl,
      '{ usage { requests promptTokens completionTokens costUsd } }',
    );
    expect(body.data.usage).toMatchObject({
      requests: answered,
      promptTokens: 11 * answered,
      completionTokens: 3 * answered,
    });
    expect(body.data.usage.costUsd).toBeCloseTo(
      answered * (11 * PRICE.input + 3 * PRICE.output),
      12,
    );
  }, 60_000);

  it('records the real usage of streamed requests, over WebSocket and REST', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    const fake = await createOpenAIFake();
    onDispose(() => fake.close());
    const gw = await startConduit({
      database: { url: database.url },
      providers: { up: { type: 'openai', baseUrl: fake.baseUrl, keys: ['sk-up-stream'] } },
    });
    fake.next({ text: 'a b c', usage: { prompt: 13, completion: 4 } });
    fake.next({ text: 'd e', usage: { prompt: 17, completion: 2, cached: 10 } });

    const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    onDispose(() => client.dispose());
    const chunks: any[] = [];
    for await (const result of client.iterate({
      query:
        'subscription ($input: CompletionInput!) { completionStream(input: $input) { delta done costUsd } }',
      variables: input('stream one'),
    }))
      chunks.push(result.data!.completionStream);
    expect(chunks.at(-1)).toMatchObject({ done: true });
    expect(chunks.at(-1).costUsd).toBeCloseTo(13 * PRICE.input + 4 * PRICE.output, 15);

    const rest = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'up/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'stream two' }],
      }),
    });
    expect(await rest.text()).toContain('data: [DONE]');

    const rows = await waitForRows(database.url, 2);
    expect(rows.map((r) => [r.prompt_tokens, r.completion_tokens, r.cached_tokens])).toEqual([
      [13, 4, 0],
      [17, 2, 10],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ stream: 1, estimated: 0, priced: 1, status: 'ok' });
      expect(Number(row.ttft_ms)).toBeGreaterThan(0);
      expect(Number(row.ttft_ms)).toBeLessThanOrEqual(Number(row.latency_ms));
    }
    expect(Number(rows[1]!.cost_usd)).toBeCloseTo(
      7 * PRICE.input + 10 * 0.075e-6 + 2 * PRICE.output,
      15,
    );
  });

  it('cuts three open streams at shutdownTimeoutMs and still writes a row for each', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    // 100 words, 100 ms apart: each stream would run ten seconds.
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const gw = await startConduit({
      server: { shutdownTimeoutMs: 300 },
      database: { url: database.url },
      providers: { slow: { type: 'echo', delayMs: 100 } },
    });
    const subscription = `subscription { completionStream(input: { model: "slow/x", messages: [{ role: USER, content: "${words}" }] }) { delta done } }`;

    const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    onDispose(() => client.dispose());
    const overWs = client.iterate({ query: subscription });
    const overSse = await fetch(gw.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: subscription }),
    });
    const overRest = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'slow/x',
        stream: true,
        messages: [{ role: 'user', content: words }],
      }),
    });
    // Each stream has delivered words before the stop.
    expect((await overWs.next()).value).toMatchObject({
      data: { completionStream: { done: false } },
    });
    const readers = [overSse, overRest].map((response) => response.body!.getReader());
    for (const reader of readers) {
      for (let text = ''; !text.includes('w0');)
        text += new TextDecoder().decode((await reader.read()).value);
    }

    await gw.stop();

    const rows = await readRows(database.url);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({
        stream: 1,
        status: 'error',
        error_code: 'CANCELLED',
        estimated: 1,
      });
      // What was delivered before the cut: some words, not all of them.
      expect(Number(row.completion_tokens)).toBeGreaterThan(0);
      expect(Number(row.completion_tokens)).toBeLessThan(100);
    }
    expect(gw.logs.filter((l) => l.includes('record dropped'))).toEqual([]);
    expect(gw.conduit.services.usage.stats().dropped).toBe(0);
  });

  it('cuts a mutation still running over WebSocket at shutdown, and writes its row', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    let arrived!: () => void;
    const called = new Promise<void>((resolve) => (arrived = resolve));
    const upstream = await createFakeUpstream(() => {
      arrived();
      return { kind: 'hang' };
    });
    onDispose(() => upstream.close());
    const gw = await startConduit({
      server: { shutdownTimeoutMs: 200 },
      database: { url: database.url },
      providers: { up: { type: 'openai', baseUrl: `${upstream.url}/v1`, keys: ['sk-up-hang'] } },
      retry: { attempts: 1 },
    });
    const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    onDispose(() => client.dispose());
    const running = client
      .iterate({ query: COMPLETE, variables: input('never answered') })
      .next()
      .catch(() => undefined);
    await called;

    await gw.stop();
    await running;
    const rows = await readRows(database.url);
    expect(rows).toMatchObject([{ status: 'error', error_code: 'CANCELLED', stream: 0 }]);
    expect(gw.logs.filter((l) => l.includes('record dropped'))).toEqual([]);
  });

  it('records a stream its client leaves before reading a chunk (graphql-ws does, for an operation completed while it started)', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    const gw = await startConduit({
      database: { url: database.url },
      providers: { slow: { type: 'echo', delayMs: 100 } },
    });
    const { gateway, infra } = gw.conduit.services;
    const request = {
      model: 'slow/x',
      messages: [{ role: 'user' as const, content: 'one two three' }],
      cache: 'BYPASS' as const,
    };
    const chunks = await gateway.stream(request, { clientId: 'anonymous', admin: true });
    await chunks[Symbol.asyncIterator]().return?.();
    expect(infra.owed.count).toBe(0);

    await gw.stop();
    expect(await readRows(database.url)).toMatchObject([
      { status: 'error', error_code: 'CANCELLED', stream: 1 },
    ]);
  });

  it('records a caller whose user name holds a NUL byte (Postgres refuses it in text)', async () => {
    const database = await makeDatabase();
    onDispose(() => database.drop());
    const gw = await startConduit({
      database: { url: database.url },
      providers: { demo: { type: 'echo' } },
    });
    const { body } = await gql(gw.graphqlUrl, COMPLETE, {
      input: { model: 'demo/echo', user: 'eve\u0000', messages: [{ role: 'USER', content: 'x' }] },
    });
    expect(body.data.complete.content).toBe('x');
    await gw.stop();
    expect((await readRows(database.url)).map((r) => r.end_user)).toEqual(['eve\uFFFD']);
    expect(gw.conduit.services.usage.stats().dropped).toBe(0);
  });
});

async function admin(statement: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(statement, values);
  } finally {
    await client.end();
  }
}

describePostgres('usage while Postgres is away', await postgresUnavailable(), () => {
  it('queues records while the database refuses connections, then writes them', async () => {
    const database = await createPostgresDatabase();
    onDispose(() => database.drop());
    const name = new URL(database.url).pathname.slice(1);
    const upstream = await startSlowOpenAI(0);
    const gw = await startConduit({
      database: { url: database.url },
      providers: { up: { type: 'openai', baseUrl: upstream.baseUrl, keys: ['sk-up-outage'] } },
    });
    const metric = async (name: string) =>
      sample(await (await fetch(`${gw.url}/metrics`)).text(), name);

    await admin(`alter database ${name} allow_connections false`);
    await admin(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [name],
    );
    onDispose(() => admin(`alter database ${name} allow_connections true`));
    for (let i = 0; i < 5; i++) {
      const { body } = await gql(gw.graphqlUrl, COMPLETE, input(`while down ${i}`));
      expect(body.data.complete.provider).toBe('up');
    }
    // No event says a write failed and was queued again: poll, bounded.
    for (let i = 0; i < 100 && gw.logs.every((l) => !l.includes('records wait')); i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await metric('conduit_usage_queue_depth')).toBe(5);

    await admin(`alter database ${name} allow_connections true`);
    expect(await waitForRows(database.url, 5, 15_000)).toHaveLength(5);
    expect(await metric('conduit_usage_queue_depth')).toBe(0);
    expect(await metric('conduit_usage_records_dropped_total')).toBe(0);
  });

  it('counts, alerts and shows the records it must drop when stopped while down', async () => {
    const database = await createPostgresDatabase();
    onDispose(() => database.drop());
    const name = new URL(database.url).pathname.slice(1);
    const upstream = await startSlowOpenAI(0);
    const webhook = await startWebhook();
    const gw = await startConduit({
      database: { url: database.url },
      providers: { up: { type: 'openai', baseUrl: upstream.baseUrl, keys: ['sk-up-outage'] } },
      alerts: { webhookUrl: webhook.url },
    });
    await admin(`alter database ${name} allow_connections false`);
    onDispose(() => admin(`alter database ${name} allow_connections true`));
    await admin(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [name],
    );
    for (let i = 0; i < 3; i++) await gql(gw.graphqlUrl, COMPLETE, input(`lost ${i}`));

    await expect(gw.stop()).rejects.toThrow();
    await webhook.received(1);
    expect(webhook.posts[0]!.body).toMatchObject({ type: 'usage_dropped', dropped: 3 });
    const text = await gw.conduit.metrics.registry.metrics();
    expect(sample(text, 'conduit_usage_records_dropped_total')).toBe(3);
    expect(gw.logs.some((l) => l.includes('"alert: usage_dropped"'))).toBe(true);
  });
});
