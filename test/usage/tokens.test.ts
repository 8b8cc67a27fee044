/**
 * Token counts: the cheap estimate admission reserves (no tokenizer, leaning high), and the
 * o200k tokenizer kept for usage a provider did not report, loaded on first use only.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type * as O200k from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage, ToolSpec } from '../../src/gateway/types.js';
import {
  countPromptTokens,
  countTokens,
  createTokenCounter,
  estimatePromptTokens,
  estimateTokens,
  exactChars,
  longChunk,
} from '../../src/usage/tokens.js';
import { onDispose } from '../helpers/dispose.js';

const prose =
  'The gateway sends each request to the first healthy provider, retries what can be retried, ' +
  'and records what every call cost, so a team can see where its money goes. ';
const code = `export function add(a: number, b: number): number {\n  return a + b;\n}\n`;
const json = JSON.stringify({
  type: 'object',
  properties: {
    city: { type: 'string', description: 'The city, e.g. Paris' },
    days: { type: 'integer', minimum: 1, maximum: 14 },
  },
  required: ['city'],
});
const chinese = '人工智能网关把请求转发给不同的模型提供商，并统一计算用量和费用。';

describe('estimateTokens', () => {
  it('counts a token per 4 letters or spaces, rounded up', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
    expect(estimateTokens('hello world\n')).toBe(3);
  });

  it('counts digits and punctuation a token per 2', () => {
    expect(estimateTokens('{"a":12}')).toBe(4); // 7 symbols, 1 letter
    expect(estimateTokens('1234')).toBe(2);
  });

  it('counts a token per non-ASCII character', () => {
    expect(estimateTokens('人工智能')).toBe(4);
    expect(estimateTokens('café')).toBe(2); // 3 letters, rounded up, and é
  });

  it('leans high against the tokenizer for prose, code, JSON and CJK', () => {
    for (const text of [prose.repeat(5), code.repeat(5), json, chinese.repeat(5)]) {
      expect(estimateTokens(text)).toBeGreaterThanOrEqual(countTokens(text));
      expect(estimateTokens(text)).toBeLessThanOrEqual(2 * countTokens(text));
    }
  });
});

describe('estimatePromptTokens', () => {
  const messages: ChatMessage[] = [
    { role: 'system', content: prose },
    { role: 'user', content: chinese },
    {
      role: 'assistant',
      content: null,
      toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' }],
    },
    { role: 'tool', content: '{"sky":"clear"}', toolCallId: 'c1' },
  ];
  const tools: ToolSpec[] = [
    { name: 'weather', description: 'The weather in a city', parameters: JSON.parse(json) },
    { name: 'time' },
  ];

  it('adds the chat framing to each message, tool call and tool, counted alike', () => {
    const framing = 3 + 3 * messages.length;
    expect(estimatePromptTokens(messages)).toBe(
      framing +
        estimateTokens(prose) +
        estimateTokens(chinese) +
        estimateTokens('weather') +
        estimateTokens('{"city":"Paris"}') +
        estimateTokens('{"sky":"clear"}'),
    );
    expect(estimatePromptTokens(messages, tools) - estimatePromptTokens(messages)).toBe(
      estimateTokens('weather') +
        estimateTokens('The weather in a city') +
        estimateTokens(json) +
        estimateTokens('time'),
    );
  });

  it('reserves no less than the tokenizer counts', () => {
    expect(estimatePromptTokens(messages, tools)).toBeGreaterThanOrEqual(
      countPromptTokens(messages, tools),
    );
  });
});

/**
 * In a fresh process: loading the whole server imports no tokenizer (an ESM import of
 * gpt-tokenizer throws there), estimating (admission, unreported usage) loads none, and only
 * an exact count (the echo provider) loads it.
 */
const lazyScript = `
import { createRequire, register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  'export async function resolve(specifier, context, next) {' +
  "  if (specifier.startsWith('gpt-tokenizer') && context.conditions.includes('import'))" +
  "    throw new Error('gpt-tokenizer imported at load');" +
  '  return next(specifier, context);' +
  '}'));
const loaded = () =>
  Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('gpt-tokenizer'));
await import('./src/server.ts');
const tokens = await import('./src/usage/tokens.ts');
const atStart = loaded();
const estimate = tokens.estimatePromptTokens([{ role: 'user', content: 'hello there' }]);
const afterEstimate = loaded();
const usage = tokens.estimateUsage([{ role: 'user', content: 'hello there' }], 'hi');
const afterUsage = loaded();
const counted = tokens.countPromptTokens([{ role: 'user', content: 'hello there' }]);
console.log(JSON.stringify({ atStart, estimate, afterEstimate, usage, afterUsage, counted, afterCount: loaded() }));
`;

describe('the tokenizer', () => {
  it('is not loaded until tokens must be counted exactly (the echo provider)', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', lazyScript],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    onDispose(() => child.exitCode === null && child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({
      atStart: false,
      estimate: 9, // 3 + 3 + ceil(11 / 4)
      afterEstimate: false,
      // Usage nobody reported is estimated too: "hi" is ceil(2 / 4) = 1.
      usage: {
        promptTokens: 9,
        completionTokens: 1,
        totalTokens: 10,
        cachedPromptTokens: 0,
        estimated: true,
      },
      afterUsage: false,
      // Counting (the echo provider) loads it: 3 + 3 + "hello there" (2 tokens).
      counted: 8,
      afterCount: true,
    });
  });
});

/** The library itself, counting the whole text at once: what "exact" means here. */
const library = createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as typeof O200k;

/** Deterministic noise (base64-like), the tokenizer's slowest kind of text. */
function noise(length: number, seed = 7): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/';
  let x = seed;
  let out = '';
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += alphabet[x % 64];
  }
  return out;
}

describe('countTokens on any text', () => {
  // A mix of every kind of chunk, long enough to be counted in pieces: prose, code, JSON, a
  // Chinese paragraph longer than `longChunk` with no space in it, numbers, runs of newlines.
  const ordinary = [
    prose.repeat(40),
    code.repeat(30),
    json,
    chinese.repeat(12),
    '\n\n\n   \t',
    '1234567890 3.14159 2026-12-06',
    "it's we're they'll I'd",
    noise(200),
  ]
    .join('\n')
    .repeat(3);

  it('counts ordinary text exactly as the tokenizer does, in pieces or whole', () => {
    expect(ordinary.length).toBeGreaterThan(8 * 1024);
    expect(ordinary.length).toBeLessThan(exactChars);
    expect(chinese.repeat(12).length).toBeGreaterThan(longChunk);
    expect(countTokens(ordinary)).toBe(library.countTokens(ordinary));
    for (const text of [prose, code, json, chinese.repeat(12), 'hello there']) {
      expect(countTokens(text)).toBe(library.countTokens(text));
    }
  });

  it('counts a 1 MB word in well under a second, from its characters past the bound', () => {
    for (const word of ['a'.repeat(1_000_000), noise(1_000_000), '人'.repeat(1_000_000)]) {
      const started = performance.now();
      const tokens = countTokens(word);
      expect(performance.now() - started).toBeLessThan(500);
      expect(tokens).toBeGreaterThan(0);
    }
    // One long run is counted as estimateTokens counts it.
    expect(countTokens('a'.repeat(10_000))).toBe(estimateTokens('a'.repeat(10_000)));
    expect(countTokens(`hello ${'a'.repeat(300)}`)).toBe(
      library.countTokens('hello') + estimateTokens(` ${'a'.repeat(300)}`),
    );
  });

  it('gives the tokenizer at most exactChars of one text, and counts the rest from characters', () => {
    const long = prose.repeat(Math.ceil((2 * exactChars) / prose.length));
    const started = performance.now();
    const tokens = countTokens(long);
    expect(performance.now() - started).toBeLessThan(500);
    expect(tokens).toBeGreaterThan(library.countTokens(long) * 0.9);
    expect(tokens).toBeLessThan(estimateTokens(long));
  });

  it('reads special-token text such as <|endoftext|> as text', () => {
    expect(countTokens('hi <|endoftext|>')).toBe(
      library.countTokens('hi <|endoftext|>', { disallowedSpecial: new Set() }),
    );
  });

  it('lets other work run while a request counts a large prompt (the echo provider)', async () => {
    const counter = createTokenCounter();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const messages: ChatMessage[] = [{ role: 'user', content: noise(1_000_000) }];
    const started = performance.now();
    const [prompt, completion] = [
      await counter.countPrompt(messages),
      await counter.count(noise(1_000_000, 11)),
    ];
    const took = performance.now() - started;
    clearInterval(timer);
    expect(took).toBeLessThan(1000);
    expect(prompt).toBeGreaterThan(0);
    expect(completion).toBeGreaterThan(0);
    // Counting ~64K characters exactly takes tens of milliseconds at least: timers ran between.
    expect(ticks).toBeGreaterThan(0);
    expect(await createTokenCounter().countPrompt([{ role: 'user', content: ordinary }])).toBe(
      countPromptTokens([{ role: 'user', content: ordinary }]),
    );
  });
});
