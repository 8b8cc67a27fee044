/**
 * A mock OpenAI upstream for the benchmark: `POST /v1/chat/completions` answered in OpenAI's
 * real format, a `chat.completion` or, with `stream: true`, `chat.completion.chunk` events (a
 * role chunk, 20 content chunks, a finish chunk, the usage-only chunk when
 * `stream_options.include_usage` is set, then `[DONE]`). A model named `slow-<ms>` drips its
 * chunks `<ms>` apart: the slow-streams checks (10,000 at once: one timer each, nothing more).
 * A model named `ttft-<ms>` paces only the start: the role chunk at once, the first content
 * chunk alone `<ms>` later, the rest `<ms>` after that: the time-to-first-token probe.
 *
 * Run as its own process by bench/run.ts; it reports its port over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const words = Array.from({ length: 20 }, (_, i) => `word${i} `);
const content = words.join('');
const usage = {
  prompt_tokens: 24,
  completion_tokens: 20,
  total_tokens: 44,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

let counter = 0;

interface ChatBody {
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function complete(res: ServerResponse, model: string, id: string): void {
  const text = JSON.stringify({
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage,
    service_tier: 'default',
    system_fingerprint: 'fp_bench',
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': id,
  });
  res.end(text);
}

function stream(res: ServerResponse, body: ChatBody, model: string, id: string): void {
  const created = Math.floor(Date.now() / 1000);
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: 'default',
      system_fingerprint: 'fp_bench',
      choices,
      ...(includeUsage && { usage: null }),
      ...extra,
    })}\n\n`;
  const events = [
    chunk([
      {
        index: 0,
        delta: { role: 'assistant', content: '', refusal: null },
        logprobs: null,
        finish_reason: null,
      },
    ]),
    ...words.map((word) =>
      chunk([{ index: 0, delta: { content: word }, logprobs: null, finish_reason: null }]),
    ),
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
    ...(includeUsage ? [chunk([], { usage })] : []),
    'data: [DONE]\n\n',
  ];
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': id,
  });
  const paced = /^(?:.*\/)?ttft-(\d+)$/.exec(model); // the bare proxy passes `mock/…` on
  if (paced) {
    const gap = Number(paced[1]);
    res.write(events[0]);
    let rest: NodeJS.Timeout | undefined;
    const first = setTimeout(() => {
      res.write(events[1]);
      rest = setTimeout(() => res.end(events.slice(2).join('')), gap);
    }, gap);
    res.once('close', () => {
      clearTimeout(first);
      clearTimeout(rest);
    });
    return;
  }
  const slow = /^slow-(\d+)$/.exec(model);
  if (!slow) {
    for (const event of events) res.write(event);
    res.end();
    return;
  }
  const gap = Number(slow[1]);
  let next = 0;
  const timer = setInterval(() => {
    res.write(events[next++]);
    if (next === events.length) {
      clearInterval(timer);
      res.end();
    }
  }, gap);
  res.once('close', () => clearInterval(timer));
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
    return;
  }
  readBody(req).then(
    (raw) => {
      const body = JSON.parse(raw.toString('utf8')) as ChatBody;
      const model = body.model ?? 'gpt-4o-mini';
      const id = `chatcmpl-bench${++counter}`;
      if (body.stream) stream(res, body, model, id);
      else complete(res, model, id);
    },
    () => res.destroy(),
  );
});
server.keepAliveTimeout = 60_000;
// Above the 10,000 slow streams of the WebSocket hold, with the other servers' idle keep-alive
// connections beside them (the file-descriptor limit is the real bound).
server.maxConnections = 30_000;

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
