/**
 * Image parts of user messages: the checks every edge shares (a source a provider can use, a
 * media type it reads) and the narrowing of a route to the providers that take images. A
 * request with images never reaches a provider that would drop them: it is refused, naming it.
 */
import { badInput } from './errors.js';
import type { ChatMessage, ChatRequest, ContentPart, ImageSource, Target } from './types.js';

/** What every provider that takes images reads (OpenAI, Anthropic, Gemini and Mistral alike). */
export const imageMediaTypes = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;

const base64 = /^[A-Za-z0-9+/]+={0,2}$/;
const dataUrl = /^data:([^;,]+);base64,(.*)$/s;

/** Whether any message carries an image (the common request has no parts at all). */
export function hasImages(request: ChatRequest): boolean {
  for (const message of request.messages) {
    if (message.parts?.some((part) => part.type === 'image')) return true;
  }
  return false;
}

/**
 * A URL as a client sent it (`https://…`, or a `data:image/png;base64,…` URL) → ImageSource.
 * Throws BAD_USER_INPUT naming `field`.
 */
export function imageFromUrl(url: string, field: string): ImageSource {
  const inline = dataUrl.exec(url);
  if (inline) return imageFromBase64(inline[2]!, inline[1]!, field);
  if (url.startsWith('data:')) {
    throw badInput(field, `${field} is a data URL that is not base64 (data:<type>;base64,…)`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badInput(field, `${field} is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw badInput(field, `${field} must be an http(s) URL or a base64 data URL`);
  }
  return { kind: 'url', url };
}

/** Base64 bytes and their media type → ImageSource. Throws BAD_USER_INPUT naming `field`. */
export function imageFromBase64(data: string, mediaType: string, field: string): ImageSource {
  if (!(imageMediaTypes as readonly string[]).includes(mediaType)) {
    throw badInput(
      field,
      `the media type ${JSON.stringify(mediaType).slice(0, 60)} is not one of ${imageMediaTypes.join(', ')}`,
    );
  }
  if (data.length === 0 || data.length % 4 !== 0 || !base64.test(data)) {
    throw badInput(field, `${field} is not base64`);
  }
  return { kind: 'base64', mediaType, data };
}

/**
 * A message's content from its parts: the text parts joined by newlines (what token estimates,
 * cache keys and logs read), and the parts themselves only when there is an image among them.
 */
export function fromParts(parts: ContentPart[]): Pick<ChatMessage, 'content' | 'parts'> {
  let content = '';
  let images = false;
  let first = true;
  for (const part of parts) {
    if (part.type === 'image') {
      images = true;
      continue;
    }
    content = first ? part.text : `${content}\n${part.text}`;
    first = false;
  }
  return images ? { content, parts } : { content };
}

/** Throws BAD_USER_INPUT when a message that is not the user's carries images. */
export function checkParts(message: ChatMessage, field: string): void {
  if (!message.parts) return;
  if (message.role !== 'user' && message.parts.some((part) => part.type === 'image')) {
    throw badInput(`${field}.parts`, 'only USER messages carry images');
  }
}

/**
 * The targets whose provider takes images; throws BAD_USER_INPUT naming those that do not when
 * none is left.
 */
export function narrowToImages(
  targets: readonly Target[],
  takesImages: (provider: string) => boolean,
): Target[] {
  const able = targets.filter((t) => takesImages(t.provider));
  if (able.length > 0) return able;
  const names = [...new Set(targets.map((t) => t.provider))].join(', ');
  throw badInput('messages', `the request has images, and provider ${names} takes no images`);
}
