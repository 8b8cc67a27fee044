/** The semantic cache's settings: defaults, and errors that name the path at fault. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

const parse = (cache: unknown, extra: Record<string, unknown> = {}) =>
  parseConfig({ providers: { emb: { type: 'openai', keys: ['k'] } }, cache, ...extra }, {});

describe('cache.semantic', () => {
  it('is off by default, with the lexical embedder', () => {
    expect(parse({}).cache.semantic).toEqual({
      enabled: false,
      embedder: { type: 'lexical' },
      maxEntriesPerScope: 1000,
      maxScopes: 10_000,
    });
  });

  it('fills the provider embedder’s deadline and input bound', () => {
    const semantic = parse({
      semantic: { enabled: true, embedder: { type: 'provider', provider: 'emb', model: 'e' } },
    }).cache.semantic;
    expect(semantic.embedder).toEqual({
      type: 'provider',
      provider: 'emb',
      model: 'e',
      deadlineMs: 1000,
      maxInputChars: 8000,
    });
  });

  it('names the path of a wrong setting', () => {
    expect(() =>
      parse({ semantic: { embedder: { type: 'provider', provider: 'nope', model: 'e' } } }),
    ).toThrow(/cache\.semantic\.embedder\.provider.*nope/);
    expect(() => parse({ semantic: { minSimilarity: 1.5 } })).toThrow(
      /cache\.semantic\.minSimilarity/,
    );
    expect(() => parse({ semantic: { enabeld: true } })).toThrow(/enabeld/);
    expect(() =>
      parse({}, { clients: [{ id: 'a', key: 'k', semanticCache: { minSimilarity: 0 } }] }),
    ).toThrow(/clients\.0\.semanticCache\.minSimilarity|clients\[0\]\.semanticCache/);
  });
});
