/**
 * The guard of a semantic match: two prompts near in meaning still differ when they ask about
 * other numbers ("5 mg" / "50 mg") or one negates what the other asks ("can I" / "can I not").
 * A prompt's guard is its numbers (as written, in order of size) and its count of negations;
 * a candidate is served only when its guard equals the new prompt's.
 */
import { wordsOf } from './lexical.js';

const NUMBER_WORDS: Record<string, string> = {
  zero: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
  ten: '10',
  eleven: '11',
  twelve: '12',
  twenty: '20',
  thirty: '30',
  forty: '40',
  fifty: '50',
  hundred: '100',
  thousand: '1000',
  million: '1000000',
  billion: '1000000000',
  first: '1st',
  second: '2nd',
  third: '3rd',
  half: '0.5',
  once: '1x',
  twice: '2x',
  double: '2x',
  triple: '3x',
};

const NEGATIONS = new Set([
  'not',
  'no',
  'never',
  'none',
  'nor',
  'neither',
  'nothing',
  'nobody',
  'nowhere',
  'without',
  'cannot',
  'cant',
  'dont',
  'doesnt',
  'didnt',
  'isnt',
  'arent',
  'wasnt',
  'werent',
  'wont',
  'wouldnt',
  'shouldnt',
  'couldnt',
  'mustnt',
  'hasnt',
  'havent',
  'hadnt',
  'neednt',
  'aint',
  'except',
  'avoid',
  'unsafe',
  'illegal',
  'impossible',
  'unable',
  'lack',
  'lacks',
]);

/**
 * Words that flip a question into its opposite while leaving almost every other word as it was
 * ("turn on" / "turn off", "check-in" / "check-out", "import" / "export"): a prompt's polar
 * words must be the same as the candidate's.
 */
const POLAR = new Set([
  'on',
  'off',
  'in',
  'out',
  'up',
  'down',
  'enable',
  'disable',
  'enabled',
  'disabled',
  'open',
  'close',
  'closed',
  'import',
  'export',
  'add',
  'remove',
  'buy',
  'sell',
  'increase',
  'decrease',
  'before',
  'after',
  'min',
  'max',
  'minimum',
  'maximum',
  'first',
  'last',
  'start',
  'stop',
  'include',
  'exclude',
  'allow',
  'block',
  'upgrade',
  'downgrade',
  'encrypt',
  'decrypt',
  'install',
  'uninstall',
  'lock',
  'unlock',
  'subscribe',
  'unsubscribe',
  'high',
  'low',
  'more',
  'less',
  'most',
  'least',
  'over',
  'under',
  'above',
  'below',
]);

/** Words whose next word says which way a question goes ("Celsius to Fahrenheit"). */
const DIRECTIONS = new Set(['to', 'into', 'from', 'than', 'vs', 'versus']);

/**
 * `5 mg`, `5.0`, `1,000`, `five` → canonical numbers; `not`, `can't`, `without` → negations;
 * polar words (`on`/`off`); the word after `to`/`from`/`than` (direction).
 */
export function guardOf(text: string): string {
  const numbers: string[] = [];
  const marks: string[] = [];
  let negations = 0;
  const words = wordsOf(text);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (NEGATIONS.has(word)) negations++;
    const digits = /\d/.test(word) ? canonicalNumber(word) : NUMBER_WORDS[word];
    if (digits !== undefined) numbers.push(digits);
    if (POLAR.has(word)) marks.push(word);
    const next = words[i + 1];
    if (DIRECTIONS.has(word) && next !== undefined && !DIRECTION_FILLER.has(next))
      marks.push(`${word}>${next}`);
  }
  numbers.sort();
  marks.sort();
  return `${numbers.join(',')}|${negations}|${[...new Set(marks)].join(',')}`;
}

/** After `to`, a verb's helpers say nothing of direction ("to be", "to the"). */
const DIRECTION_FILLER = new Set(['a', 'an', 'the', 'be', 'my', 'your', 'our', 'their']);

/**
 * The number a word starts with (`5mg` → 5, a unit glued on is the lexical part's to compare),
 * thousands separators dropped, `5.0` as `5`; a word with digits inside (`gpt4o`) as written.
 */
function canonicalNumber(word: string): string {
  const match = /^(\d+(?:[.,]\d+)*)/.exec(word);
  if (!match) return word;
  const digits = match[1]!;
  const plain = /^\d{1,3}(,\d{3})+$/.test(digits)
    ? digits.replace(/,/g, '')
    : digits.replace(',', '.');
  const value = Number(plain);
  return Number.isFinite(value) ? String(value) : plain;
}
