/** The provider types a config may name: a leaf module, so that anything may import it. */
export const ProviderTypes = [
  'openai',
  'anthropic',
  'gemini',
  'mistral',
  'openai-compatible',
  'echo',
] as const;
export type ProviderType = (typeof ProviderTypes)[number];
