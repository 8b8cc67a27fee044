/**
 * Values that a store in memory has at once and Redis only later. Admission and settlement run
 * on every request; written over promises, a request whose limits and budget live in memory paid
 * about a dozen awaits for them (each a promise and a microtask turn: about 10 µs of a REST
 * request's 100). Written as a flow that yields what it waits on, they run straight through
 * when every answer is already here, and turn asynchronous at the first one that is not.
 */

/** A value now, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Every value, in hand when all are; else one promise of them all (they run concurrently). */
export function all<T>(values: readonly MaybePromise<T>[]): MaybePromise<T[]> {
  for (const value of values) if (value instanceof Promise) return Promise.all(values);
  return values as T[];
}

/** `fn` of the value: now if it is here, else once it comes. (Not named `then`: a module exporting `then` is a thenable to `import()`.) */
export function andThen<T, U>(value: MaybePromise<T>, fn: (value: T) => U): MaybePromise<U> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

/**
 * Waits on a value in a flow, typed: `const x = yield* wait(store.get(key))`. (`run` sends
 * back what was yielded, awaited: so the value sent is a T.)
 */
export function* wait<T>(value: MaybePromise<T>): Generator<MaybePromise<T>, T, unknown> {
  return (yield value) as T;
}

/** A flow: a generator that yields what it waits on (through `wait`) and returns its result. */
export type Flow<T> = Generator<unknown, T, unknown>;

/**
 * Runs a flow. A yielded value in hand goes straight back in; at the first promise the rest
 * runs asynchronously, and a rejection is thrown into the flow where it waited. A flow that
 * throws while synchronous throws to the caller.
 */
export function run<T>(flow: Flow<T>): MaybePromise<T> {
  let step = flow.next();
  while (!step.done) {
    if (step.value instanceof Promise) return resume(flow, step.value);
    step = flow.next(step.value);
  }
  return step.value;
}

async function resume<T>(flow: Flow<T>, first: Promise<unknown>): Promise<T> {
  let pending: Promise<unknown> = first;
  for (;;) {
    let settled: { value: unknown } | { error: unknown };
    try {
      settled = { value: await pending };
    } catch (error) {
      settled = { error };
    }
    let step = 'error' in settled ? flow.throw(settled.error) : flow.next(settled.value);
    while (!step.done && !(step.value instanceof Promise)) step = flow.next(step.value);
    if (step.done) return step.value;
    pending = step.value as Promise<unknown>;
  }
}
