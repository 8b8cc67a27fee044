import { describe, expect, it } from 'vitest';
import { all, andThen, run, wait, type Flow } from '../../src/state/maybe.js';

function* sum(values: readonly (number | Promise<number>)[]): Flow<number> {
  let total = 0;
  for (const value of values) total += yield* wait(value);
  return total;
}

describe('flows over maybe-promises', () => {
  it('run through at once when every value is in hand', () => {
    expect(run(sum([1, 2, 3]))).toBe(6);
    expect(all([1, 2])).toEqual([1, 2]);
    expect(andThen(2, (n) => n * 10)).toBe(20);
  });

  it('turn asynchronous at the first promise, and go on with the values after it', async () => {
    const result = run(sum([1, Promise.resolve(2), 3, Promise.resolve(4)]));
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toBe(10);
    expect(await all([1, Promise.resolve(2)])).toEqual([1, 2]);
    expect(await andThen(Promise.resolve(2), (n) => n * 10)).toBe(20);
  });

  it('throw a rejection into the flow where it waited, which may catch it', async () => {
    function* guarded(): Flow<string> {
      try {
        yield* wait(Promise.reject(new Error('store down')));
        return 'unreachable';
      } catch (error) {
        return `caught ${(error as Error).message}`;
      }
    }
    expect(await run(guarded())).toBe('caught store down');
    await expect(run(sum([Promise.reject(new Error('lost'))]))).rejects.toThrow('lost');
  });

  it('throw at once what a flow throws while it is synchronous', () => {
    function* refuses(): Flow<never> {
      yield* wait(1);
      throw new Error('refused');
    }
    expect(() => run(refuses())).toThrow('refused');
  });
});
