/**
 * papermill's CLI `_resolve_type` for `-p name value`: `True`/`False`/`None`, then whatever
 * Python's `int()` accepts, then whatever `float()` accepts, else the text unchanged.
 *
 * `int()` and `float()` are generous: surrounding whitespace, `_` between digits, any Unicode
 * decimal digits, `inf`/`nan` in any case. Integral floats come back as `FloatValue`, so
 * `-p x 1.0` is injected as `1.0`; ints beyond 2^53 come back as `bigint`.
 */
import { FloatValue } from './parameter-values.ts';

const D = String.raw`\p{Nd}(?:_?\p{Nd})*`;
const INT = new RegExp(`^[+-]?${D}$`, 'u');
const FLOAT = new RegExp(
  String.raw`^[+-]?(?:(?:${D}(?:\.(?:${D})?)?|\.${D})(?:[eE][+-]?${D})?|inf(?:inity)?|nan)$`,
  'iu',
);
// Python's str.strip() whitespace also includes the ASCII separators \x1c-\x1f.
const SPACE = String.raw`[\s\x1c-\x1f]+`;
const PYTHON_SPACE = new RegExp(`^${SPACE}|${SPACE}$`, 'gu');
const IS_DIGIT = /\p{Nd}/u;

/** Any Unicode decimal digit as ASCII: digits come in runs of ten starting at zero. */
function asciiDigits(text: string): string {
  let result = '';
  for (const character of text) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (codePoint < 0x80 || !IS_DIGIT.test(character)) {
      result += character;
      continue;
    }
    let zero = codePoint;
    while (IS_DIGIT.test(String.fromCodePoint(zero - 1))) zero -= 1;
    result += String((codePoint - zero) % 10);
  }
  return result;
}

export function guessParameterType(text: string): unknown {
  if (text === 'True') return true;
  if (text === 'False') return false;
  if (text === 'None') return null;
  const stripped = text.replace(PYTHON_SPACE, '');
  if (INT.test(stripped)) {
    const integer = BigInt(asciiDigits(stripped).replaceAll('_', ''));
    const safe =
      integer <= BigInt(Number.MAX_SAFE_INTEGER) && integer >= BigInt(Number.MIN_SAFE_INTEGER);
    return safe ? Number(integer) : integer;
  }
  if (FLOAT.test(stripped)) {
    const normalized = asciiDigits(stripped).replaceAll('_', '').toLowerCase();
    const value = /nan/.test(normalized)
      ? Number.NaN
      : /inf/.test(normalized)
        ? (normalized.startsWith('-') ? -1 : 1) * Number.POSITIVE_INFINITY
        : Number(normalized);
    return Number.isInteger(value) ? new FloatValue(value) : value;
  }
  return text;
}
