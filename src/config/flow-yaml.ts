/**
 * An unquoted `${VAR}` inside a YAML flow collection (`server: { port: ${PORT} }`) is read by
 * YAML as a `$` followed by a nested mapping `{PORT}`: the file fails to parse, or parses into
 * something else. Found with YAML's own lexer (so quotes, comments and block scalars are read as
 * YAML reads them), each is reported by line with the quoted form to write instead.
 */
import { Lexer } from 'yaml';

/** The lexer's markers (document, flow end, scalar, BOM), which take no place in the text. */
const markers = new Set(['\u0002', '\u0018', '\u001f', '\u{FEFF}']);
const referenceAt = /\$\{\w+(?::-[^}\n]*)?\}/y;

export function unquotedReferencesInFlow(text: string): string[] {
  const problems: string[] = [];
  const open: string[] = [];
  let offset = 0;
  let previousScalar = '';
  for (const token of new Lexer().lex(text)) {
    if (markers.has(token)) continue;
    const start = offset;
    offset += token.length;
    if (token === '{' || token === '[') {
      // `$` then `{`: the plain scalar before it ends in `$`, and this `{` opens `${VAR}`.
      if (open.length > 0 && previousScalar.endsWith('$')) {
        referenceAt.lastIndex = start - 1;
        const reference = referenceAt.exec(text)?.[0];
        if (reference) {
          const line = text.slice(0, start).split('\n').length;
          const brackets = open.at(-1) === '{' ? '{ }' : '[ ]';
          const quoted = `'${previousScalar.slice(0, -1)}${reference}'`;
          problems.push(`line ${line}: quote ${reference} inside ${brackets}: ${quoted}`);
        }
      }
      open.push(token);
    } else if (token === '}' || token === ']') {
      open.pop();
    }
    previousScalar = /^[\s,:?-]/.test(token) || token === '{' || token === '[' ? '' : token;
  }
  return problems;
}
