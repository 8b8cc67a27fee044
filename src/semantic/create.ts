/**
 * The semantic cache of one config: its embedder (lexical, or a provider's through the
 * gateway), its thresholds and client settings, reporting to metrics and debug logs.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { createLexicalEmbedder } from './lexical.js';
import { createProviderEmbedder, type EmbedThroughGateway } from './provider-embedder.js';
import { createSemanticCache, type SemanticCache } from './semantic-cache.js';
import type { SemanticStore } from './store.js';

/** The threshold of neural embedders when none is configured. */
export const NEURAL_MIN_SIMILARITY = 0.95;

/** Undefined when the semantic cache is off: the gateway then never looks. */
export function semanticCacheFor(
  config: Pick<Config, 'cache' | 'clients'>,
  store: SemanticStore,
  metrics: Metrics,
  log: Logger,
): ((embed: EmbedThroughGateway) => SemanticCache) | undefined {
  const settings = config.cache.semantic;
  if (!settings.enabled) return undefined;
  const clients = new Map(
    config.clients.flatMap((c) => (c.semanticCache ? [[c.id, c.semanticCache] as const] : [])),
  );
  const spec = settings.embedder;
  return (embed) => {
    const embedder =
      spec.type === 'lexical'
        ? createLexicalEmbedder()
        : createProviderEmbedder({
            model: `${spec.provider}/${spec.model}`,
            deadlineMs: spec.deadlineMs,
            maxInputChars: spec.maxInputChars,
            minSimilarity: NEURAL_MIN_SIMILARITY,
            embed,
            onError: (error) =>
              log.warn({ err: error }, 'semantic cache: the embedder failed; a miss'),
          });
    const embedSeconds = metrics.semanticEmbedSeconds.labels(spec.type);
    return createSemanticCache({
      embedder,
      store,
      minSimilarity: settings.minSimilarity,
      open: config.clients.length === 0,
      client: (id) => clients.get(id),
      onResult: (result) => metrics.semanticResults.inc({ result }),
      onEmbedded: (seconds) => embedSeconds.observe(seconds),
      onIneligible: (reason, request) =>
        log.debug(
          { reason, model: request.model },
          'semantic cache: not eligible; exact cache only',
        ),
    });
  };
}
