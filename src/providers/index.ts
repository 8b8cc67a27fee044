/** The registry: provider type → how to build it. The only place that lists them. */
import type { ProviderConfig } from '../config/schema.js';
import { anthropicAdapter } from './anthropic.js';
import { createEchoProvider } from './echo.js';
import { geminiAdapter } from './gemini.js';
import { createHttpProvider, type Transport } from './http.js';
import { mistralAdapter } from './mistral.js';
import { openaiAdapter, openaiCompatibleAdapter } from './openai.js';
import type { HttpAdapter, Provider, ProviderType } from './types.js';

const adapters: Record<Exclude<ProviderType, 'echo'>, HttpAdapter> = {
  openai: openaiAdapter,
  'openai-compatible': openaiCompatibleAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  mistral: mistralAdapter,
};

export function createProvider(
  name: string,
  config: ProviderConfig,
  transport: Transport,
): Provider {
  if (config.type === 'echo') {
    return createEchoProvider({
      name,
      models: config.models,
      delayMs: config.delayMs,
      images: config.images,
    });
  }
  const adapter = adapters[config.type];
  const baseUrl = config.baseUrl ?? adapter.defaultBaseUrl;
  if (!baseUrl) throw new Error(`providers.${name}.baseUrl is required for ${config.type}`);
  return createHttpProvider({
    name,
    type: config.type,
    models: config.models,
    baseUrl,
    adapter,
    transport,
    timeoutMs: config.timeoutMs,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    images: config.images,
  });
}
