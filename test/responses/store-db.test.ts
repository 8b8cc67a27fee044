/**
 * The stored-responses table (migration `0005_stored_responses`) on SQLite and Postgres: a
 * Conduit on each database stores a response, serves it back to its client only, continues it,
 * deletes it, and keeps it across a restart on the same database.
 */
import OpenAI, { NotFoundError } from 'openai';
import { expect, it } from 'vitest';
import { describeEachDatabase, useDisposers } from '../helpers/databases.js';
import { startConduit } from '../helpers/conduit.js';

const clients = [
  { id: 'one', key: 'key-one-stored' },
  { id: 'two', key: 'key-two-stored' },
];

await describeEachDatabase('stored responses', (makeDatabase) => {
  const dispose = useDisposers();

  const start = async (url: string) => {
    const conduit = await startConduit({
      database: { url },
      providers: { echo: { type: 'echo', models: ['echo'] } },
      clients,
    });
    dispose(() => conduit.stop());
    const sdk = (key: string) =>
      new OpenAI({ baseURL: `${conduit.url}/v1`, apiKey: key, maxRetries: 0 });
    return { one: sdk('key-one-stored'), two: sdk('key-two-stored'), conduit };
  };

  it('stores, serves per client, survives a restart and deletes', async () => {
    const database = await makeDatabase();
    dispose(() => database.drop());
    const first = await start(database.url);
    const made = await first.one.responses.create({ model: 'echo/echo', input: 'kept words' });
    await expect(first.two.responses.retrieve(made.id)).rejects.toBeInstanceOf(NotFoundError);
    await first.conduit.stop();

    const second = await start(database.url);
    expect(await second.one.responses.retrieve(made.id)).toEqual(made);
    const next = await second.one.responses.create({
      model: 'echo/echo',
      input: 'and more',
      previous_response_id: made.id,
    });
    expect(next.previous_response_id).toBe(made.id);
    await second.one.responses.delete(made.id);
    await expect(second.one.responses.retrieve(made.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await second.one.responses.retrieve(next.id)).id).toBe(next.id);
  });
});
