/**
 * Writing a batch of prepared request-log rows, each with its full-text entry. A row whose
 * request id is already stored is skipped (a retried batch may be in already). SQLite: one
 * prepared single-row insert per row and its FTS5 row, in one transaction (better-sqlite3
 * directly). Postgres: one multi-row insert per batch, its text built once per batch size (no
 * query building per batch: Kysely's cost ~15 µs a row), the tsvector made by the database.
 */
import type Database from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import type { Kysely } from 'kysely';
import type { OpenedDatabase, UsageDatabase } from '../usage/store-db.js';
import { isDataError, refusedRowByRow, statementTexts } from '../usage/store-insert.js';
import type { PreparedRow } from './prepare.js';
import type { RequestLogTable } from './tables.js';

/** Writes the rows; resolves to how many the database refused (dropped, not retried). */
export type InsertRows = (rows: PreparedRow[]) => Promise<number>;

const COLUMNS = [
  'request_id',
  'time',
  'client_id',
  'end_user',
  'alias',
  'provider',
  'model',
  'route',
  'status',
  'error_code',
  'cache_status',
  'stream',
  'latency_ms',
  'ttft_ms',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'estimated',
  'cost_usd',
  'saved_usd',
  'finish_reason',
  'attempts',
  'body',
  'bodies_dropped',
] as const satisfies readonly Exclude<keyof RequestLogTable, 'seq'>[];

/** Fails to compile when a column of the table is missing from `COLUMNS`. */
type Missing = Exclude<keyof RequestLogTable, (typeof COLUMNS)[number] | 'seq'>;
const everyColumn: [Missing] extends [never] ? true : Missing = true;
void everyColumn;

export function createInsert(
  opened: OpenedDatabase,
  onError: (error: unknown) => void,
): InsertRows {
  return opened.dialect === 'sqlite'
    ? sqliteInsert(opened.sqlite, onError)
    : postgresInsert(opened.db, onError);
}

function sqliteInsert(database: Database.Database, onError: (error: unknown) => void): InsertRows {
  const insert = database.prepare(
    `insert into request_log (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})
     on conflict (request_id) do nothing`,
  );
  const index = database.prepare('insert into request_log_fts (rowid, text) values (?, ?)');
  const values = new Array<unknown>(COLUMNS.length);
  const insertAll = database.transaction((rows: readonly PreparedRow[], refusals: unknown[]) => {
    for (const { row, search } of rows) {
      for (let i = 0; i < COLUMNS.length; i++) values[i] = row[COLUMNS[i]!];
      try {
        const { changes, lastInsertRowid } = insert.run(values);
        if (changes === 1 && search) index.run(lastInsertRowid, search);
      } catch (error) {
        if (!isDataError(error)) throw error;
        refusals.push(error);
      }
    }
  });
  return async (rows) => {
    const refusals: unknown[] = [];
    insertAll(rows, refusals);
    for (const error of refusals) onError(error);
    return refusals.length;
  };
}

const WIDTH = COLUMNS.length + 1;
const COLUMN_LIST = [...COLUMNS, 'search'].map((column) => `"${column}"`).join(', ');

/**
 * The statement Kysely compiled for `insertInto('request_log').values(rows)` with the search
 * column as `to_tsvector('simple', text)` (null for null: the function is strict) and
 * `onConflict(request_id).doNothing()`, built once per row count rather than per batch.
 */
function postgresSql(rowCount: number): string {
  const tuples: string[] = [];
  for (let row = 0; row < rowCount; row++) {
    const base = row * WIDTH;
    const values = COLUMNS.map((_, column) => `$${base + column + 1}`);
    values.push(`to_tsvector('simple', $${base + WIDTH})`);
    tuples.push(`(${values.join(', ')})`);
  }
  return `insert into "request_log" (${COLUMN_LIST}) values ${tuples.join(', ')} on conflict ("request_id") do nothing`;
}

function postgresInsert(db: Kysely<UsageDatabase>, onError: (error: unknown) => void): InsertRows {
  const textOf = statementTexts(postgresSql);
  return refusedRowByRow(async (rows: readonly PreparedRow[]) => {
    const parameters = new Array<unknown>(rows.length * WIDTH);
    let index = 0;
    for (const { row, search } of rows) {
      for (const column of COLUMNS) parameters[index++] = row[column];
      parameters[index++] = search;
    }
    await db.executeQuery(CompiledQuery.raw(textOf(rows.length), parameters));
  }, onError);
}
