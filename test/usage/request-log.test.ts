import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, createRequestLog } from '../../src/log.js';
import type { UsageRecord } from '../../src/usage/store.js';

const record: UsageRecord = {
  time: new Date(),
  requestId: '019a0000-0000-7000-8000-000000000000',
  clientId: 'web "α"',
  user: 'u\n1',
  alias: 'fast',
  provider: 'openai',
  model: 'gpt-4o-mini',
  status: 'ok',
  errorCode: null,
  promptTokens: 11,
  completionTokens: 7,
  cachedTokens: 0,
  estimated: false,
  costUsd: 1.65e-7,
  savedUsd: 0,
  priced: true,
  latencyMs: 1.234567,
  ttftMs: null,
  cacheHit: false,
  attempts: 2,
  stream: true,
  route: 'graphql',
  prompt: '[{"role":"user","content":"Hi\\u2028"}]',
  response: 'Hello\u0000',
};
const failed: UsageRecord = {
  ...record,
  provider: null,
  model: null,
  status: 'error',
  errorCode: 'UPSTREAM_ERROR',
  ttftMs: 12.5,
  prompt: null,
  response: null,
};

/** What pino itself writes for `info(record, 'request')`, without the record's `time`. */
function logWithPino(log: pino.Logger, bodies: boolean, value: UsageRecord): void {
  const omit = () => undefined;
  const serializers: Record<string, typeof omit> = bodies
    ? { time: omit }
    : { time: omit, prompt: omit, response: omit };
  log.child({}, { serializers }).info(value, 'request');
}

describe('the request log line', () => {
  for (const bodies of [false, true]) {
    it(`is the line pino writes for the record (bodies ${bodies ? 'on' : 'off'})`, () => {
      const lines: string[] = [];
      const log = createLogger('info', { write: (line: string) => void lines.push(line) });
      const write = createRequestLog(log, bodies);
      for (const value of [record, failed]) {
        write(value);
        logWithPino(log, bodies, value);
      }
      expect(lines).toHaveLength(4);
      const withoutTime = (line: string) => line.replace(/"time":\d+,/, '');
      expect(withoutTime(lines[0]!)).toBe(withoutTime(lines[1]!));
      expect(withoutTime(lines[2]!)).toBe(withoutTime(lines[3]!));
      const parsed = JSON.parse(lines[0]!);
      expect(parsed).toMatchObject({ level: 30, service: 'conduit', msg: 'request', user: 'u\n1' });
      expect('prompt' in parsed).toBe(bodies);
    });
  }

  it("carries the logger's own bindings and writes nothing below its level", () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const write = createRequestLog(log, false);
    write(record);
    expect(lines).toHaveLength(0);
    log.level = 'info';
    write(record);
    expect(JSON.parse(lines[0]!)).toMatchObject({ pid: process.pid, msg: 'request', attempts: 2 });
  });
});
