/** ContentPartInput: the text and image parts of a message (`MessageInput.parts`). */
import { badInput } from '../../gateway/errors.js';
import { fromParts, imageFromBase64, imageFromUrl } from '../../gateway/images.js';
import type { ChatMessage, ContentPart } from '../../gateway/types.js';
import { builder } from '../builder.js';

const ContentPartTypeEnum = builder.enumType('ContentPartType', {
  values: ['TEXT', 'IMAGE'] as const,
});

export const ContentPartInput = builder.inputType('ContentPartInput', {
  description:
    'One part of a USER message: TEXT with `text`, or IMAGE with `imageUrl` (http(s) or a base64 data URL) or `imageBase64` and its `mediaType`.',
  fields: (t) => ({
    type: t.field({ type: ContentPartTypeEnum, required: true }),
    text: t.string(),
    imageUrl: t.string(),
    imageBase64: t.string({ description: 'The image bytes, base64; needs mediaType.' }),
    mediaType: t.string({ description: 'image/jpeg | image/png | image/gif | image/webp' }),
  }),
});

type PartShape = typeof ContentPartInput.$inferInput;

/**
 * A message's `parts` (with no `content` beside them) → its content and parts. Throws
 * BAD_USER_INPUT naming the field at fault.
 */
export function toMessageParts(
  parts: readonly PartShape[],
  content: string | null | undefined,
  at: string,
): Pick<ChatMessage, 'content' | 'parts'> {
  if (content != null) throw badInput(`${at}.content`, 'give content or parts, not both');
  return fromParts(parts.map((part, j) => toPart(part, `${at}.parts[${j}]`)));
}

function toPart(part: PartShape, at: string): ContentPart {
  if (part.type === 'TEXT') {
    if (part.text == null) throw badInput(`${at}.text`, 'a TEXT part needs text');
    if (part.imageUrl != null || part.imageBase64 != null || part.mediaType != null) {
      throw badInput(at, 'a TEXT part carries only text');
    }
    return { type: 'text', text: part.text };
  }
  if (part.text != null) throw badInput(`${at}.text`, 'an IMAGE part carries no text');
  if ((part.imageUrl == null) === (part.imageBase64 == null)) {
    throw badInput(at, 'an IMAGE part needs exactly one of imageUrl and imageBase64');
  }
  if (part.imageUrl != null) {
    if (part.mediaType != null) {
      throw badInput(`${at}.mediaType`, 'mediaType goes with imageBase64, not imageUrl');
    }
    return { type: 'image', source: imageFromUrl(part.imageUrl, `${at}.imageUrl`) };
  }
  if (part.mediaType == null) throw badInput(`${at}.mediaType`, 'imageBase64 needs its mediaType');
  return {
    type: 'image',
    source: imageFromBase64(part.imageBase64!, part.mediaType, `${at}.imageBase64`),
  };
}
