/**
 * Writing a batch of usage rows, with no query building per batch. A row whose request id is
 * already stored is skipped (a retried batch may already be in); a row the database refuses for
 * what it holds is counted and reported, and the rest of its batch is still written.
 *
 * SQLite: one single-row insert, prepared when the store opens, run once per row inside one
 * transaction (better-sqlite3 directly; measured faster than a cached multi-row statement,
 * which needs a new prepare for every batch size). Postgres: one multi-row insert per batch
 * through Kysely, its text built once per batch size.
 */
import type Database from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import type { Kysely, LogEvent } from 'kysely';
import { USAGE_COLUMNS } from './store-db.js';
import type { OpenedDatabase, UsageDatabase, UsageRow } from './store-db.js';

/** Writes the rows; resolves to how many the database refused (dropped, not retried). */
export type InsertRows = (rows: UsageRow[]) => Promise<number>;

export interface InsertOptions {
  /** Called with each refused row's error. */
  onError: (error: unknown) => void;
  /** Kysely's query log (the SQLite writes, which skip Kysely, are logged here too). */
  log?: (event: LogEvent) => void;
}

export function createInsert(opened: OpenedDatabase, options: InsertOptions): InsertRows {
  return opened.dialect === 'sqlite'
    ? createSqliteInsert(opened.sqlite, options)
    : createPostgresInsert(opened.db, options);
}

const WIDTH = USAGE_COLUMNS.length;
const COLUMN_LIST = USAGE_COLUMNS.map((column) => `"${column}"`).join(', ');

/** The statement Kysely compiles for `insertInto(…).values(rows).onConflict(request_id).doNothing()`. */
function insertSql(rowCount: number, placeholder: (index: number) => string): string {
  const tuples: string[] = [];
  for (let row = 0; row < rowCount; row++) {
    const values = USAGE_COLUMNS.map((_, column) => placeholder(row * WIDTH + column));
    tuples.push(`(${values.join(', ')})`);
  }
  return `insert into "usage_records" (${COLUMN_LIST}) values ${tuples.join(', ')} on conflict ("request_id") do nothing`;
}

/** Every row's values, row after row, in column order. */
function parametersOf(rows: readonly UsageRow[]): unknown[] {
  const parameters = new Array<unknown>(rows.length * WIDTH);
  let index = 0;
  for (const row of rows) for (const column of USAGE_COLUMNS) parameters[index++] = row[column];
  return parameters;
}

function createSqliteInsert(database: Database.Database, options: InsertOptions): InsertRows {
  const sql = insertSql(1, () => '?');
  const statement = database.prepare(sql);
  // better-sqlite3 copies what it binds, so one array serves every row.
  const values = new Array<unknown>(WIDTH);
  // A refused row aborts its statement only; the transaction goes on with the next row. Any
  // other error rolls the whole batch back, to be retried.
  const insertAll = database.transaction((rows: readonly UsageRow[], refusals: unknown[]) => {
    for (const row of rows) {
      for (let column = 0; column < WIDTH; column++) values[column] = row[USAGE_COLUMNS[column]!];
      try {
        statement.run(values);
      } catch (error) {
        if (!isDataError(error)) throw error;
        refusals.push(error);
      }
    }
  });

  /** One event per batch: the single-row statement, with every row's parameters in order. */
  const logBatch = (
    rows: readonly UsageRow[],
    started: number,
    failure?: { error: unknown },
  ): void => {
    if (!options.log) return;
    const query = CompiledQuery.raw(sql, parametersOf(rows));
    const queryDurationMillis = performance.now() - started;
    options.log(
      failure
        ? { level: 'error', error: failure.error, query, queryDurationMillis }
        : { level: 'query', query, queryDurationMillis },
    );
  };

  return async (rows) => {
    const refusals: unknown[] = [];
    const started = performance.now();
    try {
      insertAll(rows, refusals);
    } catch (error) {
      logBatch(rows, started, { error });
      throw error;
    }
    logBatch(rows, started);
    for (const error of refusals) options.onError(error);
    return refusals.length;
  };
}

/** Statement texts kept, by row count: the full batch, and a few of the sizes timers flush. */
const POSTGRES_TEXTS = 8;

function createPostgresInsert(db: Kysely<UsageDatabase>, options: InsertOptions): InsertRows {
  const textOf = statementTexts((rows) => insertSql(rows, (index) => `$${index + 1}`));
  return refusedRowByRow(async (rows: readonly UsageRow[]) => {
    await db.executeQuery(CompiledQuery.raw(textOf(rows.length), parametersOf(rows)));
  }, options.onError);
}

/**
 * An error about the data sent, not the database's state: retrying it can never succeed.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html (classes 22 and 23)
 * @see https://www.sqlite.org/rescode.html (SQLITE_CONSTRAINT*, SQLITE_MISMATCH, SQLITE_TOOBIG)
 */
/**
 * A multi-row statement's text by its number of rows, made once per size (the last
 * `POSTGRES_TEXTS` sizes are kept: a batch's size varies little).
 */
export function statementTexts(make: (rows: number) => string): (rows: number) => string {
  const texts = new Map<number, string>();
  return (rows) => {
    let text = texts.get(rows);
    if (text === undefined) {
      if (texts.size >= POSTGRES_TEXTS) texts.clear();
      text = make(rows);
      texts.set(rows, text);
    }
    return text;
  };
}

/**
 * Writes a batch in one statement; resolves to how many rows the database refused. When the
 * database is down or busy the error goes up (the writer retries the batch later). A row it
 * refuses for what it holds must not block every row behind it forever: the batch is then
 * written row by row, and only the rows refused for what they hold are dropped (counted, each
 * told to `onError`).
 */
export function refusedRowByRow<Row>(
  insert: (rows: readonly Row[]) => Promise<void>,
  onError: (error: unknown) => void,
): (rows: readonly Row[]) => Promise<number> {
  return async (rows) => {
    try {
      await insert(rows);
      return 0;
    } catch (error) {
      if (!isDataError(error)) throw error;
      let refused = 0;
      for (const row of rows) {
        try {
          await insert([row]);
        } catch (rowError) {
          if (!isDataError(rowError)) throw rowError;
          refused += 1;
          onError(rowError);
        }
      }
      return refused;
    }
  };
}

export function isDataError(error: unknown): boolean {
  // better-sqlite3 refuses a value it cannot bind (an object, a boolean) with a TypeError.
  if (error instanceof TypeError && /bind/i.test(error.message)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    /^2[23][0-9A-Z]{3}$/.test(code) ||
    code.startsWith('SQLITE_CONSTRAINT') ||
    code === 'SQLITE_MISMATCH' ||
    code === 'SQLITE_TOOBIG'
  );
}
