import { printSchema } from 'graphql';
import { serverAudits } from 'graphql-http';
import { beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema/index.js';
import { startConduit, type TestConduit } from '../helpers/conduit.js';

describe('the public schema', () => {
  it('matches the snapshot (a rename of a CONTRACT name fails here)', () => {
    expect(printSchema(schema)).toMatchSnapshot();
  });

  it('has every type and field of the contract', () => {
    const fields = (name: string) => Object.keys((schema.getType(name) as any).getFields());
    expect(fields('Query')).toEqual(
      expect.arrayContaining(['providers', 'models', 'usage', 'viewer']),
    );
    expect(fields('Mutation')).toEqual(expect.arrayContaining(['complete', 'invalidateCache']));
    expect(fields('Subscription')).toEqual(expect.arrayContaining(['completionStream']));
    expect(fields('Completion')).toEqual(
      expect.arrayContaining([
        'id',
        'provider',
        'model',
        'content',
        'toolCalls',
        'finishReason',
        'usage',
        'costUsd',
        'cached',
        'latencyMs',
        'attempts',
      ]),
    );
    expect(fields('CompletionChunk')).toEqual(
      expect.arrayContaining([
        'id',
        'delta',
        'provider',
        'model',
        'cached',
        'done',
        'finishReason',
        'toolCalls',
        'usage',
        'costUsd',
      ]),
    );
    expect(fields('UsageGroup')).toEqual(
      expect.arrayContaining([
        'client',
        'user',
        'provider',
        'model',
        'day',
        'hour',
        'requests',
        'costUsd',
      ]),
    );
    expect(fields('Provider')).toEqual(
      expect.arrayContaining(['name', 'type', 'models', 'keys', 'availableKeys', 'healthy']),
    );
  });
});

describe('GraphQL over HTTP', () => {
  let gw: TestConduit;
  beforeAll(async () => {
    gw = await startConduit({ providers: { echo: { type: 'echo' } } });
  });

  it('passes every audit of the GraphQL-over-HTTP spec (graphql-http)', async () => {
    const audits = serverAudits({ url: gw.graphqlUrl, fetchFn: fetch });
    const failures: string[] = [];
    for (const audit of audits) {
      const result = await audit.fn();
      if (result.status !== 'ok')
        failures.push(`${audit.name}: ${result.status} ${'reason' in result ? result.reason : ''}`);
    }
    expect(audits.length).toBeGreaterThan(50);
    expect(failures).toEqual([]);
  });
});
