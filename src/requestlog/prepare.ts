/**
 * Turns a queued entry into the row stored, off the request's path (in the writer's batch):
 * the prompt, parameters, answer and tool calls serialised, redacted, capped to
 * `maxBodyBytes` (marked truncated), and deflated together; and the text the full-text index
 * gets (the prompt's and the answer's words, redacted as stored).
 *
 * A stored body is one byte saying how, then the JSON: `0` as it is, `1` deflated (raw). Bodies
 * under `COMPRESS_FROM` bytes are kept as they are: each deflate call costs tens of µs of setup
 * (measured: ~60 µs for a 200-byte document, which shrinks by a fifth), more than the whole rest
 * of an entry; larger ones are deflated on libuv's thread pool, off the event loop.
 */
import { promisify } from 'node:util';
import { deflateRaw, inflateRawSync } from 'node:zlib';
import type { ChatRequest, Outcome } from '../gateway/types.js';
import type { RequestLogTable } from './tables.js';
import type {
  BodyPart,
  BodyPolicy,
  CacheStatus,
  LoggedAttempt,
  QueuedEntry,
  StoredBodies,
} from './types.js';

const deflate = promisify(deflateRaw);

/** Bodies (UTF-8 JSON) from this size on are deflated. */
export const COMPRESS_FROM = 1024;
const DEFLATED = Buffer.from([1]);

/** The stored body of `json` when it is kept as it is (one buffer, written once); null when it is to be deflated. */
function plain(json: string): Buffer | null {
  const size = Buffer.byteLength(json);
  if (size >= COMPRESS_FROM) return null;
  const body = Buffer.allocUnsafe(size + 1);
  body[0] = 0;
  body.write(json, 1);
  return body;
}

async function deflated(json: string): Promise<Buffer> {
  return Buffer.concat([DEFLATED, await deflate(Buffer.from(json))]);
}

/** A row as inserted (`seq` is the database's), and what the full-text index gets. */
export interface PreparedRow {
  row: Omit<RequestLogTable, 'seq'>;
  /** Null when no bodies were kept. */
  search: string | null;
}

/** Postgres refuses NUL in text; stored as U+FFFD in both dialects (as usage rows are). */
export const noNul = <T extends string | null>(value: T): T =>
  (value === null || !value.includes('\u0000') ? value : value.replaceAll('\u0000', '\uFFFD')) as T;

/** `text` cut to `max` UTF-8 bytes (never inside a character); whether it was cut. */
export function capBytes(text: string, max: number): { text: string; cut: boolean } {
  // A string of n UTF-16 units is at most 3n bytes: most bodies are never measured.
  if (text.length * 3 <= max || Buffer.byteLength(text) <= max) return { text, cut: false };
  const head = Buffer.from(text).subarray(0, max).toString('utf8');
  return { text: head.endsWith('\uFFFD') ? head.slice(0, -1) : head, cut: true };
}

/** The request's settings besides its messages, as JSON. */
function parametersOf(request: ChatRequest, stream: boolean): string {
  return JSON.stringify({
    temperature: request.temperature,
    topP: request.topP,
    maxTokens: request.maxTokens,
    stop: request.stop,
    tools: request.tools,
    toolChoice: request.toolChoice,
    responseFormat: request.responseFormat,
    user: request.user,
    cache: request.cache,
    cacheOptions: request.cacheOptions,
    stream,
  });
}

function bodiesOf(outcome: Outcome, policy: BodyPolicy): { bodies: StoredBodies; search: string } {
  const truncated: BodyPart[] = [];
  const fit = (part: BodyPart, raw: string | null): string | null => {
    if (raw === null) return null;
    const capped = capBytes(policy.mask(raw), policy.maxBodyBytes);
    if (capped.cut && !truncated.includes(part)) truncated.push(part);
    return capped.text;
  };
  const request = outcome.request;
  const prompt = fit('prompt', request ? JSON.stringify(request.messages) : null);
  const parameters = fit('parameters', request ? parametersOf(request, outcome.stream) : null);
  const answer = fit('answer', outcome.content);
  const toolCalls = outcome.toolCalls.map((call) => ({
    id: call.id,
    name: policy.mask(call.name),
    arguments: fit('toolCalls', call.arguments) ?? '',
  }));
  // The words, not the JSON: a search for "don't" must not meet `don\u0027t`.
  const words: string[] = [];
  if (request)
    for (const message of request.messages) if (message.content) words.push(message.content);
  if (outcome.content) words.push(outcome.content);
  const search = capBytes(policy.mask(words.join('\n')), policy.maxBodyBytes * 2).text;
  return { bodies: { prompt, parameters, answer, toolCalls, truncated }, search };
}

function attemptsOf(outcome: Outcome, mask: ((text: string) => string) | null): LoggedAttempt[] {
  return outcome.attempts.map((a) => ({
    provider: a.provider,
    model: a.model,
    status: a.status === 'ok' ? 'ok' : 'error',
    errorKind: a.status === 'ok' ? null : a.status,
    // Already masked when the try failed (call.ts); masked again with this config's patterns.
    error: a.error === null || mask === null ? a.error : mask(a.error),
    latencyMs: a.latencyMs,
  }));
}

const cacheStatusOf = (outcome: Outcome): CacheStatus =>
  !outcome.cacheHit ? 'miss' : outcome.cacheKind === 'semantic' ? 'semantic' : 'exact';

/**
 * The rows of a batch, in its order. Made synchronously (no promise per entry) but for the bodies
 * of `COMPRESS_FROM` bytes or more, deflated on libuv's thread pool, all at once.
 */
export async function prepareRows(entries: readonly QueuedEntry[]): Promise<PreparedRow[]> {
  const rows: PreparedRow[] = new Array<PreparedRow>(entries.length);
  let deflating: Promise<void>[] | null = null;
  for (let i = 0; i < entries.length; i++) {
    const { prepared, large } = prepare(entries[i]!);
    rows[i] = prepared;
    if (large !== null)
      (deflating ??= []).push(deflated(large).then((body) => void (prepared.row.body = body)));
  }
  if (deflating) await Promise.all(deflating);
  return rows;
}

/** One entry's row; `large`: the JSON of its bodies, still to be deflated into `row.body`. */
function prepare(entry: QueuedEntry): { prepared: PreparedRow; large: string | null } {
  const { record, outcome, policy } = entry;
  let body: Buffer | null = null;
  let large: string | null = null;
  let search: string | null = null;
  if (policy) {
    const made = bodiesOf(outcome, policy);
    const json = JSON.stringify(made.bodies);
    body = plain(json);
    if (body === null) large = json;
    search = noNul(made.search);
  }
  const prepared: PreparedRow = {
    row: {
      request_id: noNul(record.requestId),
      time: record.time.getTime(),
      client_id: noNul(record.clientId),
      end_user: noNul(record.user),
      alias: noNul(record.alias),
      provider: noNul(record.provider),
      model: noNul(record.model),
      route: record.route,
      status: record.status,
      error_code: noNul(record.errorCode),
      cache_status: cacheStatusOf(outcome),
      stream: record.stream ? 1 : 0,
      latency_ms: record.latencyMs,
      ttft_ms: record.ttftMs,
      prompt_tokens: record.promptTokens,
      completion_tokens: record.completionTokens,
      cached_tokens: record.cachedTokens,
      estimated: record.estimated ? 1 : 0,
      cost_usd: record.costUsd,
      saved_usd: record.savedUsd,
      finish_reason: outcome.finishReason,
      attempts: noNul(JSON.stringify(attemptsOf(outcome, policy ? policy.mask : null))),
      body,
      bodies_dropped: policy ? 0 : 1,
    },
    search,
  };
  return { prepared, large };
}

/** The bodies of a stored row. */
export function readBodies(body: Uint8Array): StoredBodies {
  const rest = Buffer.from(body.buffer, body.byteOffset + 1, body.byteLength - 1);
  const json = body[0] === 1 ? inflateRawSync(rest) : rest;
  return JSON.parse(json.toString('utf8')) as StoredBodies;
}
