/**
 * A text as words for streaming it back (the echo provider, a cache hit replayed as chunks):
 * each word keeps the whitespace before it and the last one the whitespace after it, so joining
 * them gives the text back exactly. What `text.match(/\s*\S+(\s+$)?/g)` gives, by scanning: that
 * expression retries its `\s*` from every space of a run, quadratic on a text of spaces.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  const length = text.length;
  let start = 0;
  let at = 0;
  while (at < length) {
    while (at < length && isSpace(text.charCodeAt(at))) at++;
    if (at === length) break;
    while (at < length && !isSpace(text.charCodeAt(at))) at++;
    words.push(text.slice(start, at));
    start = at;
  }
  if (start < length && words.length > 0) words[words.length - 1] += text.slice(start);
  return words;
}

/** JavaScript's `\s`: the ASCII spaces, and Unicode's space separators, line ends and BOM. */
function isSpace(code: number): boolean {
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}
