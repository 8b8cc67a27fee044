/**
 * The guard of a semantic match: two prompts near in meaning still differ when they ask about
 * other numbers ("5 mg" / "50 mg") or one negates what the other asks ("can I" / "can I not").
 * A prompt's guard is its numbers (as written, in order of size) and its count of negations;
 * a candidate is served only when its guard equals the new prompt's.
 */
import { wordsOf } from './lexical.js';

const NUMBER_WORDS: Record<string, string> = {
  zero: '0',
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
 * ("turn on" / "turn off", "check in" / "check out", "import" / "export"), by pairs. A prompt
 * with one side of a pair conflicts with one that has only the other side; a word with no
 * counterpart in the other prompt ("on Windows" / "for Windows") is no conflict.
 */
const OPPOSITES: readonly (readonly [string, string])[] = [
  ['on', 'off'],
  ['in', 'out'],
  ['up', 'down'],
  ['enable', 'disable'],
  ['enabled', 'disabled'],
  ['open', 'close'],
  ['opened', 'closed'],
  ['import', 'export'],
  ['add', 'remove'],
  ['buy', 'sell'],
  ['increase', 'decrease'],
  ['before', 'after'],
  ['min', 'max'],
  ['minimum', 'maximum'],
  ['first', 'last'],
  ['start', 'stop'],
  ['include', 'exclude'],
  ['allow', 'block'],
  ['upgrade', 'downgrade'],
  ['encrypt', 'decrypt'],
  ['install', 'uninstall'],
  ['lock', 'unlock'],
  ['subscribe', 'unsubscribe'],
  ['high', 'low'],
  ['higher', 'lower'],
  ['highest', 'lowest'],
  ['more', 'less'],
  ['most', 'least'],
  ['over', 'under'],
  ['above', 'below'],
  ['largest', 'smallest'],
  ['biggest', 'smallest'],
  ['tallest', 'shortest'],
  ['fastest', 'slowest'],
  ['best', 'worst'],
  ['hot', 'cold'],
  ['accept', 'reject'],
  ['push', 'pull'],
  ['left', 'right'],
  ['north', 'south'],
  ['east', 'west'],
  ['earliest', 'latest'],
];
const OPPOSITE = new Map<string, string>();
for (const [a, b] of OPPOSITES) {
  OPPOSITE.set(a, b);
  OPPOSITE.set(b, a);
}

/** Words whose next word says which way a question goes ("Celsius to Fahrenheit"). */
const DIRECTIONS = new Set(['to', 'into', 'from', 'than', 'vs', 'versus']);

/** After `to`, a verb's helpers say nothing of direction ("to be", "to the"). */
const DIRECTION_FILLER = new Set(['a', 'an', 'the', 'be', 'my', 'your', 'our', 'their']);

/**
 * A prompt's guard, as text (it travels with the entry, through Redis too):
 * `numbers|negations|polar words|directions`. Numbers: `5 mg`, `5.0`, `1,000`, `five` as
 * canonical numbers, in order; negations: how many of `not`, `can't`, `without`, …; polar
 * words: those with an opposite (`on`, `off`); directions: the word after `to`/`from`/`than`.
 */
export function guardOf(text: string): string {
  const numbers: string[] = [];
  const polar = new Set<string>();
  const directions = new Set<string>();
  let negations = 0;
  const words = wordsOf(text);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (NEGATIONS.has(word)) negations++;
    const digits = /\d/.test(word) ? canonicalNumber(word) : NUMBER_WORDS[word];
    if (digits !== undefined) numbers.push(digits);
    if (OPPOSITE.has(word)) polar.add(word);
    const next = words[i + 1];
    if (DIRECTIONS.has(word) && next !== undefined && !DIRECTION_FILLER.has(next))
      directions.add(`${word}>${next}`);
  }
  numbers.sort();
  return `${numbers.join(',')}|${negations}|${[...polar].sort().join(',')}|${[...directions].sort().join(',')}`;
}

/**
 * Whether a candidate may answer: the same numbers and the same number of negations, no polar
 * word whose opposite alone is in the other, and no direction (`to X`) pointing elsewhere.
 */
export function guardsAgree(a: string, b: string): boolean {
  if (a === b) return true;
  const [numbersA, negationsA, polarA = '', directionsA = ''] = a.split('|');
  const [numbersB, negationsB, polarB = '', directionsB = ''] = b.split('|');
  if (numbersA !== numbersB || negationsA !== negationsB) return false;
  const wordsA = new Set(polarA.split(',').filter(Boolean));
  const wordsB = new Set(polarB.split(',').filter(Boolean));
  for (const word of wordsA) if (!wordsB.has(word) && wordsB.has(OPPOSITE.get(word)!)) return false;
  for (const word of wordsB) if (!wordsA.has(word) && wordsA.has(OPPOSITE.get(word)!)) return false;
  const targetsA = targets(directionsA);
  for (const [word, toB] of targets(directionsB)) {
    const toA = targetsA.get(word);
    if (toA !== undefined && ![...toB].some((target) => toA.has(target))) return false;
  }
  return true;
}

/** `to>celsius,to>x` → to → {celsius, x}. */
function targets(directions: string): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const pair of directions.split(',')) {
    if (!pair) continue;
    const [word = '', target = ''] = pair.split('>');
    const set = map.get(word) ?? new Set<string>();
    set.add(target);
    map.set(word, set);
  }
  return map;
}

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
