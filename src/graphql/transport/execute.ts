/**
 * How queries and mutations run: graphql-jit's compiled plan for a document seen before,
 * graphql-js's `execute` otherwise. Not Yoga's default executor (@graphql-tools/executor, for
 * @defer and @stream, which this schema has no use for): it copies and freezes every variable
 * value before running. Subscriptions run in `chunks.ts` (the chunk plans), their variables
 * coerced by graphql-jit's compiled coercion (`compiler`).
 *
 * graphql-jit compiles a document's operation into a function (variable coercion, field
 * resolution and leaf serialisation specialised to the document): a `complete` mutation's
 * execution costs 3–7 µs of CPU compiled against 21–34 µs through graphql-js (bench/execute.ts).
 * Compiling costs as much as a few hundred runs save (2–5 ms for that mutation), so a document
 * is compiled once it has run `compileAfter` times: the documents an application sends all
 * day are, one sent now and then never costs a compilation. The plan lives as long as the
 * parsed document does (the bounded document caches, `document-cache.ts`).
 *
 * Where graphql-js stays, per document or per request:
 * - a document graphql-jit refuses to compile (its answer is errors): graphql-js, always;
 * - a request error (variables that do not coerce, no data at all): graphql-js's own answer,
 *   made again by graphql-js, so its messages (which clients and the BAD_USER_INPUT code read)
 *   are exactly as before; graphql-jit ran no resolver then.
 * Field errors keep their shape: graphql-jit's errors are GraphQLErrors with the original error,
 * path and locations, masked and coded by the same plugins.
 */
import { execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { createRequire } from 'node:module';
import type * as Jit from 'graphql-jit';
import type * as JitVariables from 'graphql-jit/dist/variables';

const require = createRequire(import.meta.url);

/** graphql-jit's compiler, and its compiled coercion of variables (subscriptions use it). */
type Compiler = typeof Jit & Pick<typeof JitVariables, 'compileVariableParsing'>;

/**
 * graphql-jit, loaded when the first operation runs, not at start-up (it and its dependencies
 * add a tenth of a second of CPU to it); until it has loaded, graphql-js runs all.
 */
let jit: Compiler | undefined;
let loading: Promise<unknown> | undefined;
export function compiler(): Compiler | undefined {
  loading ??= import('graphql-jit')
    .then((module) => {
      // Its ES module build of this file does not load (imports without extensions); the
      // CommonJS one shares graphql with everything else (Node's `import` loads graphql's
      // CommonJS build too).
      const variables = require('graphql-jit/dist/variables') as typeof JitVariables;
      jit = { ...module, compileVariableParsing: variables.compileVariableParsing };
    })
    .catch(() => undefined); // not installed: graphql-js runs everything
  return jit;
}

/** Runs of a document through graphql-js before it is compiled. */
export const compileAfter = 100;

/** Per document, per operation name: the runs so far, then the compiled plan (null: none). */
const compiled = new WeakMap<DocumentNode, Map<string | null, number | Jit.CompiledQuery | null>>();

function planOf(args: ExecutionArgs): Jit.CompiledQuery | null {
  const compile = compiler();
  let byName = compiled.get(args.document);
  if (!byName) compiled.set(args.document, (byName = new Map()));
  const name = args.operationName ?? null;
  const known = byName.get(name) ?? 0;
  if (typeof known !== 'number') return known;
  if (known < compileAfter) {
    byName.set(name, known + 1);
    return null;
  }
  if (!compile) return null;
  const plan = compile.compileQuery(args.schema, args.document, name ?? undefined);
  const usable = compile.isCompiledQuery(plan) ? plan : null;
  byName.set(name, usable);
  return usable;
}

type Result = ExecutionResult | Promise<ExecutionResult>;

/** `errors` before `data`, as graphql-js writes them (graphql-jit writes `data` first). */
const errorsFirst = (result: ExecutionResult): ExecutionResult =>
  result.errors ? { errors: result.errors, ...result } : result;

/**
 * Results already made, by their context: the runner's direct path ran the operation without
 * envelop, and hands a result with errors to envelop's hooks (masking, codes) through its
 * executor, which gives that result back instead of running the operation again.
 */
const settled = new WeakMap<object, ExecutionResult>();

/** The next execution (or subscription) with `contextValue` answers `result` (once). */
export function settleWith(contextValue: object, result: ExecutionResult): void {
  settled.set(contextValue, result);
}

/** The result settled for `contextValue`, taken (undefined when there is none). */
export function takeSettled(contextValue: unknown): ExecutionResult | undefined {
  const done = settled.get(contextValue as object);
  if (done) settled.delete(contextValue as object);
  return done;
}

/** A query or mutation's result (compiled once its document has run `compileAfter` times). */
export function executeOperation(args: ExecutionArgs): Result {
  const done = takeSettled(args.contextValue);
  if (done) return done;
  const plan = planOf(args);
  if (plan) {
    const result = plan.query(args.rootValue, args.contextValue, args.variableValues);
    if (isPromise(result)) return result.then(errorsFirst);
    if ('data' in result) return errorsFirst(result);
  }
  return executeWithGraphQLJs(args);
}

/**
 * graphql-js's `execute`. Its answer without `data` is a request error (variables that do not
 * coerce): marked HTTP 400 as Yoga's executor marks it (GraphQL over HTTP: a request error is
 * a 4xx); a field error always comes with `data`.
 */
function executeWithGraphQLJs(args: ExecutionArgs): Result {
  const result = execute(args);
  if (isPromise(result) || 'data' in result || !result.errors) return result;
  for (const error of result.errors) {
    Object.defineProperty(error, 'extensions', {
      value: { ...error.extensions, http: { ...(error.extensions.http ?? {}), status: 400 } },
    });
  }
  return result;
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown }).then === 'function';
