/**
 * What each provider checks of the images it receives, as its API does (a malformed image is a
 * 400 before the model runs): the fakes answer the same, so a gateway that sends images in the
 * wrong shape fails the tests rather than passing a lenient fake.
 *
 * OpenAI / Mistral: `{type: 'image_url', image_url: {url}}`, an http(s) URL or a base64 data URL.
 * Anthropic: `{type: 'image', source: {type: 'base64', media_type, data} | {type: 'url', url}}`.
 * Gemini: `{inlineData: {mimeType, data}}` or `{fileData: {mimeType, fileUri}}`.
 */
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const mediaTypes = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const base64 = /^[A-Za-z0-9+/]+={0,2}$/;
const isBase64 = (data: unknown) =>
  typeof data === 'string' && data.length > 0 && data.length % 4 === 0 && base64.test(data);
const isHttpUrl = (url: unknown) => typeof url === 'string' && /^https?:\/\/[^\s]+$/.test(url);

/** The images a fake received, in order, as `{kind, ...}` (what tests compare). */
export type ReceivedImage =
  { kind: 'url'; url: string } | { kind: 'base64'; mediaType: string; data: string };

/** Chat Completions: the first malformed image part's message, else undefined. */
export function checkOpenAIImages(body: unknown): string | undefined {
  const messages = isRecord(body) && Array.isArray(body.messages) ? body.messages : [];
  for (const [i, message] of messages.entries()) {
    if (!isRecord(message) || !Array.isArray(message.content)) continue;
    for (const [j, part] of message.content.entries()) {
      if (!isRecord(part)) return `messages[${i}].content[${j}]: expected an object`;
      if (part.type === 'text') continue;
      if (part.type !== 'image_url') {
        return `Invalid value: '${String(part.type)}'. Supported values are: 'text' and 'image_url'.`;
      }
      if (message.role !== 'user') {
        return `Invalid 'messages[${i}]'. Image URLs are only allowed for messages with role 'user'`;
      }
      const url = isRecord(part.image_url) ? part.image_url.url : undefined;
      const inline = typeof url === 'string' ? /^data:([^;]+);base64,(.*)$/s.exec(url) : null;
      if (inline ? !mediaTypes.includes(inline[1]!) || !isBase64(inline[2]) : !isHttpUrl(url)) {
        return `Invalid image URL: 'messages[${i}].content[${j}].image_url.url'. Expected a valid URL or a base64-encoded data URL.`;
      }
    }
  }
  return undefined;
}

/** OpenAI-wire images received, in order. */
export function openAIImages(body: unknown): ReceivedImage[] {
  const messages = isRecord(body) && Array.isArray(body.messages) ? body.messages : [];
  return messages.flatMap((message) =>
    (isRecord(message) && Array.isArray(message.content) ? message.content : [])
      .filter((part) => isRecord(part) && part.type === 'image_url')
      .map((part) => {
        const url = String((part as { image_url: { url: string } }).image_url.url);
        const inline = /^data:([^;]+);base64,(.*)$/s.exec(url);
        return inline
          ? { kind: 'base64' as const, mediaType: inline[1]!, data: inline[2]! }
          : { kind: 'url' as const, url };
      }),
  );
}

/** Messages API: the first malformed image block's message, else undefined. */
export function checkAnthropicImages(messages: unknown): string | undefined {
  for (const [i, message] of (Array.isArray(messages) ? messages : []).entries()) {
    const blocks = isRecord(message) && Array.isArray(message.content) ? message.content : [];
    for (const [j, block] of blocks.entries()) {
      if (!isRecord(block) || block.type !== 'image') continue;
      const at = `messages.${i}.content.${j}.image.source`;
      if (isRecord(message) && message.role !== 'user') {
        return `messages.${i}: image blocks are only allowed in user messages`;
      }
      const source = block.source;
      if (!isRecord(source)) return `${at}: Field required`;
      if (source.type === 'base64') {
        if (!mediaTypes.includes(String(source.media_type))) {
          return `${at}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
        }
        if (!isBase64(source.data)) return `${at}.base64.data: invalid base64 data`;
      } else if (source.type === 'url') {
        if (!isHttpUrl(source.url)) return `${at}.url.url: invalid URL`;
      } else
        return `${at}: Input tag '${String(source.type)}' found using 'type' does not match any of the expected tags: 'base64', 'url'`;
    }
  }
  return undefined;
}

export function anthropicImages(messages: unknown): ReceivedImage[] {
  return (Array.isArray(messages) ? messages : []).flatMap((message) =>
    (isRecord(message) && Array.isArray(message.content) ? message.content : [])
      .filter((block) => isRecord(block) && block.type === 'image')
      .map((block) => {
        const source = (block as { source: Record<string, string> }).source;
        return source.type === 'url'
          ? { kind: 'url' as const, url: source.url! }
          : { kind: 'base64' as const, mediaType: source.media_type!, data: source.data! };
      }),
  );
}

/** generateContent: the first malformed image part's message, else undefined. */
export function checkGeminiImages(body: unknown): string | undefined {
  const contents = isRecord(body) && Array.isArray(body.contents) ? body.contents : [];
  for (const [i, content] of contents.entries()) {
    const parts = isRecord(content) && Array.isArray(content.parts) ? content.parts : [];
    for (const [j, part] of parts.entries()) {
      if (!isRecord(part)) continue;
      const at = `contents[${i}].parts[${j}]`;
      const inline = part.inlineData ?? part.inline_data;
      const file = part.fileData ?? part.file_data;
      if (inline !== undefined) {
        if (!isRecord(inline) || !isBase64(inline.data)) {
          return `Invalid value at '${at}.inline_data.data' (TYPE_BYTES), Base64 decoding failed`;
        }
        const mime = inline.mimeType ?? inline.mime_type;
        if (!mediaTypes.includes(String(mime))) return `Unsupported MIME type: ${String(mime)}`;
      }
      if (file !== undefined) {
        const uri = isRecord(file) ? (file.fileUri ?? file.file_uri) : undefined;
        const mime = isRecord(file) ? (file.mimeType ?? file.mime_type) : undefined;
        if (!isHttpUrl(uri)) return `Invalid value at '${at}.file_data.file_uri'`;
        if (typeof mime !== 'string' || mime === '') {
          return `${at}.file_data: mime_type is required`;
        }
      }
    }
  }
  return undefined;
}

export function geminiImages(body: unknown): ReceivedImage[] {
  const contents = isRecord(body) && Array.isArray(body.contents) ? body.contents : [];
  return contents.flatMap((content) =>
    (isRecord(content) && Array.isArray(content.parts) ? content.parts : []).flatMap(
      (part): ReceivedImage[] => {
        if (!isRecord(part)) return [];
        const inline = (part.inlineData ?? part.inline_data) as Record<string, string> | undefined;
        const file = (part.fileData ?? part.file_data) as Record<string, string> | undefined;
        if (inline) {
          return [
            {
              kind: 'base64',
              mediaType: (inline.mimeType ?? inline.mime_type)!,
              data: inline.data!,
            },
          ];
        }
        if (file) return [{ kind: 'url', url: (file.fileUri ?? file.file_uri)! }];
        return [];
      },
    ),
  );
}
