/**
 * What every provider fake offers, so end-to-end tests can run the same checks against each
 * provider type. Each fake (test/fakes/<type>.ts) speaks its provider's true wire format.
 */
import type { FakeUpstream } from '../helpers/fake-upstream.js';

export interface FakeToolCall {
  id: string;
  name: string;
  /** JSON text. */
  arguments: string;
}

/** An answer, sent as one JSON body or as the provider's stream, as the request asks. */
export interface FakeReply {
  text?: string;
  toolCalls?: FakeToolCall[];
  /** @default 'stop' ('tool_calls' when toolCalls are given) */
  finish?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** @default { prompt: 11, completion: number of words, cached: 0 } */
  usage?: { prompt: number; completion: number; cached?: number };
  /**
   * The model's thinking, before its answer: Anthropic's `thinking` block (with a signature),
   * OpenAI Responses' `reasoning` item (its summary). Not sent by the Chat Completions fakes.
   */
  thinking?: string;
  /** The model the answer names (a dated snapshot, say). @default the model asked */
  model?: string;
  /** Streams only: bytes per write (events split across writes); default one write per event. */
  splitBytes?: number;
  /** Streams only: put every event in one write. */
  oneWrite?: boolean;
  /** Streams only: leave out the usage the provider would send (OpenAI: the usage chunk). */
  omitUsage?: boolean;
}

/** A failure, in the provider's own error format. */
export type FakeFailure =
  | { fail: 'rate_limited'; retryAfterSeconds?: number }
  | { fail: 'quota' }
  | { fail: 'server' }
  | { fail: 'overloaded' }
  | { fail: 'auth' }
  | { fail: 'bad_request' }
  /** No answer at all until the client gives up. */
  | { fail: 'hang' }
  /** Streams: the first text delta, then the connection is destroyed. */
  | { fail: 'cut_after_first_token'; text?: string }
  /** Streams: the first text delta, then silence until the client gives up. */
  | { fail: 'stall_after_first_token'; text?: string }
  /** Streams: the first text delta, then the provider's in-band error event. */
  | { fail: 'stream_error'; text?: string }
  /** Streams: the first text delta, then the body ends without the provider's terminator. */
  | { fail: 'truncated'; text?: string };

export interface ProviderFake {
  upstream: FakeUpstream;
  /** For Conduit's config: `providers.X.baseUrl` (ends with the API's version path). */
  baseUrl: string;
  /** For the provider's official SDK (some take the host only). */
  sdkBaseUrl: string;
  /** Answer the next calls with these, in order; after them, the default reply (see each fake). */
  next(...answers: (FakeReply | FakeFailure)[]): void;
  close(): Promise<void>;
}
