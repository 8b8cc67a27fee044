/**
 * `npm run bench:semantic`: the semantic cache with its built-in lexical embedder, on the
 * labelled question pairs of bench/data/semantic-pairs.json (paraphrases that should match,
 * near-misses that must not), each looked up in a scope already holding 1,000 other questions.
 *
 * Reports the hit rate on paraphrases (by kind), wrong hits (a near-miss served, or a
 * paraphrase served another entry's answer), and the latency a look-up adds to a miss (embed,
 * guard, scan of 1,000 entries; p50, p99) and of storing an entry, through the real code path
 * (`createSemanticCache` over the in-memory store).
 *
 *   BENCH_MIN_SIMILARITY=0.9   the threshold (default: the lexical embedder's own)
 *   BENCH_ENTRIES=1000         entries per scope
 */
import { readFileSync } from 'node:fs';
import type { CachedAnswer, Caller, ChatRequest, Target } from '../src/gateway/types.js';
import { guardOf, guardsAgree } from '../src/semantic/guard.js';
import { createLexicalEmbedder, lexicalVector } from '../src/semantic/lexical.js';
import { createSemanticCache } from '../src/semantic/semantic-cache.js';
import { createSemanticStore } from '../src/semantic/store.js';

interface Pair {
  a: string;
  b: string;
  label: 'paraphrase' | 'near-miss';
  kind: string;
}

const { pairs } = JSON.parse(
  readFileSync(new URL('./data/semantic-pairs.json', import.meta.url), 'utf8'),
) as { pairs: Pair[] };
const entries = Number(process.env.BENCH_ENTRIES ?? 1000);
const minSimilarity = process.env.BENCH_MIN_SIMILARITY
  ? Number(process.env.BENCH_MIN_SIMILARITY)
  : undefined;

const store = createSemanticStore({ maxEntriesPerScope: entries + 1 });
const embedder = createLexicalEmbedder();
const cache = createSemanticCache({
  embedder,
  store,
  minSimilarity,
  open: true,
  client: () => undefined,
});
const caller: Caller = { clientId: 'bench', admin: false };
const target: Target = { provider: 'openai', model: 'gpt-4o-mini', weight: 1 };
const ask = (prompt: string): ChatRequest => ({
  model: 'chat',
  messages: [{ role: 'user', content: prompt }],
  cache: 'DEFAULT',
});
const answer = (text: string): CachedAnswer => ({
  provider: 'openai',
  costUsd: 0.001,
  response: {
    model: 'gpt-4o-mini',
    content: text,
    toolCalls: [],
    finishReason: 'STOP',
    usage: {
      promptTokens: 10,
      completionTokens: 10,
      totalTokens: 20,
      cachedPromptTokens: 0,
      estimated: false,
    },
  },
});

// Other questions filling the scope: made of words the pairs never use.
const topics = ['zorbic', 'quellan', 'vintrax', 'plomet', 'drusk', 'fennimor', 'galvid', 'hesk'];
const verbs = [
  'configure',
  'calibrate',
  'migrate',
  'archive',
  'audit',
  'provision',
  'rotate',
  'mirror',
];
const things = [
  'ledgers',
  'widgets',
  'tokens',
  'gaskets',
  'pallets',
  'manifests',
  'rotors',
  'spools',
];
const places = ['depot', 'annex', 'vault', 'hangar', 'kiosk', 'silo', 'atrium', 'quay'];
const fillers: string[] = [];
for (let i = 0; fillers.length < entries; i++) {
  const pick = (list: string[], n: number) => list[n % list.length]!;
  fillers.push(
    `How should a ${pick(topics, i)} team ${pick(verbs, i >> 3)} the ${pick(things, i >> 6)} of the ${pick(places, i >> 9)} ${i.toString(36)}?`,
  );
}

async function fill(): Promise<void> {
  for (const text of fillers) {
    const { probe } = await cache.lookup(ask(text), caller, target);
    if (probe) cache.store(probe, answer(text), 3_600_000);
  }
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function main(): Promise<void> {
  await fill();
  const byKind = new Map<string, { pairs: number; hits: number; wrong: number }>();
  const wrongs: string[] = [];
  let paraphrases = 0;
  let paraphraseHits = 0;
  let nearMisses = 0;
  let wrongHits = 0;
  /** Near-misses the similarity alone would have served, which the guard stopped. */
  let stoppedByGuard = 0;
  let nearestNearMiss = 0;
  const threshold = minSimilarity ?? embedder.defaultMinSimilarity;
  for (const pair of pairs) {
    if (pair.label === 'near-miss') {
      const a = lexicalVector(pair.a);
      const b = lexicalVector(pair.b);
      let similarity = 0;
      for (let i = 0; i < a.length; i++) similarity += a[i]! * b[i]!;
      if (similarity >= threshold && !guardsAgree(guardOf(pair.a), guardOf(pair.b)))
        stoppedByGuard++;
      else nearestNearMiss = Math.max(nearestNearMiss, similarity);
    }
    const stored = await cache.lookup(ask(pair.a), caller, target);
    const id = stored.probe && cache.store(stored.probe, answer(pair.a), 3_600_000);
    const { hit } = await cache.lookup(ask(pair.b), caller, target);
    if (id) await store.invalidate(id);
    const kind = byKind.get(pair.kind) ?? { pairs: 0, hits: 0, wrong: 0 };
    byKind.set(pair.kind, kind);
    kind.pairs++;
    const served = hit?.response.content;
    if (served !== undefined) kind.hits++;
    const wrong = served !== undefined && (pair.label === 'near-miss' || served !== pair.a);
    if (pair.label === 'paraphrase') {
      paraphrases++;
      if (served === pair.a) paraphraseHits++;
    } else nearMisses++;
    if (wrong) {
      wrongHits++;
      kind.wrong++;
      wrongs.push(
        `  ${pair.kind}: "${pair.a}" served for "${pair.b}" (${hit?.semantic?.similarity.toFixed(3)})`,
      );
    }
  }

  // The latency a look-up adds to a miss, at `entries` per scope, and of storing an entry.
  const misses: number[] = [];
  const missCpu: number[] = [];
  const adds: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const prompt = `Unrelated question ${i.toString(36)} about ${things[i % 8]} and ${places[(i >> 3) % 8]}, nothing stored`;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const { hit, probe } = await cache.lookup(ask(prompt), caller, target);
    misses.push(performance.now() - started);
    const used = process.cpuUsage(cpu);
    missCpu.push((used.user + used.system) / 1000);
    if (hit) throw new Error(`unexpected hit for "${prompt}"`);
    const before = performance.now();
    const id = cache.store(probe!, answer(prompt), 3_600_000)!;
    adds.push(performance.now() - before);
    await store.invalidate(id);
  }
  console.log(
    `semantic cache, lexical embedder (${embedder.id}, ${embedder.dimension} dims), threshold ${threshold}, ${entries} entries per scope`,
  );
  console.log(`pairs: ${pairs.length} (${paraphrases} paraphrases, ${nearMisses} near-misses)`);
  console.log(
    `hit rate on paraphrases: ${((100 * paraphraseHits) / paraphrases).toFixed(1)}% (${paraphraseHits}/${paraphrases})`,
  );
  console.log(`wrong hits: ${wrongHits}`);
  console.log(
    `near-misses above the threshold stopped by the guard: ${stoppedByGuard}; the nearest other near-miss: ${nearestNearMiss.toFixed(3)}`,
  );
  console.log('by kind:');
  for (const [kind, k] of byKind)
    console.log(
      `  ${kind.padEnd(18)} ${String(k.pairs).padStart(4)} pairs  ${String(k.hits).padStart(4)} hits  ${k.wrong} wrong`,
    );
  if (wrongs.length) console.log(wrongs.join('\n'));
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  console.log(
    `added latency of a miss: p50 ${ms(percentile(misses, 50))}, p99 ${ms(percentile(misses, 99))}`,
  );
  console.log(
    `  its CPU time (what scheduling on a busy machine does not inflate): p50 ${ms(percentile(missCpu, 50))}, p99 ${ms(percentile(missCpu, 99))}`,
  );
  console.log(`storing an entry: p50 ${ms(percentile(adds, 50))}, p99 ${ms(percentile(adds, 99))}`);
}

await main();
