/**
 * JSON text to parameter values without losing what Python would see, and back.
 *
 * `JSON.parse` turns `1.0` into `1`, `12345678901234567890` into an inexact float, and moves
 * keys that look like array indices (`"1"`, `"20"`) to the front of an object. papermill reads
 * JSON/YAML with Python, where `1.0` stays a float, big integers stay exact and a dict keeps its
 * order, so this parser reads the text itself:
 * - a number written with a fraction or an exponent is a float: a `FloatValue` when integral
 *   (`1.0`), else a number (`0.5`; `1e400` is Infinity, as Python's float('1e400'));
 * - an integer beyond 2^53 is a `bigint`;
 * - an object is a plain object, or a `Map` (in source order) when one of its keys is an array
 *   index, which a plain object would reorder. Translators, the writer and
 *   `stringifyParametersJson` take either.
 *
 * `stringifyParametersJson` writes the same values back as exact JSON text: FloatValues as
 * `1.0`, bigints in full, Maps in order, +-Infinity as `1e400` / `-1e400` (valid JSON that reads
 * back as the same float). NaN has no JSON text and is refused.
 */
import { FloatValue } from './parameter-values.ts';
import { pythonFloatRepr } from './python-float-repr.ts';

/** A key JavaScript objects move to the front: a canonical array index. */
export function isArrayIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4294967295;
}

function numberValue(source: string): unknown {
  const value = Number(source);
  if (/[.eE]/.test(source)) return Number.isInteger(value) ? new FloatValue(value) : value;
  if (!Number.isSafeInteger(value)) return BigInt(source);
  // Python reads `-0` as the int 0; only `-0.0` is a negative zero.
  return value === 0 ? 0 : value;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const LITERAL = /true|false|null/y;
const SPACE = /[ \t\n\r]*/y;

class Reader {
  readonly text: string;
  at = 0;
  constructor(text: string) {
    this.text = text;
  }

  fail(what: string): never {
    throw new SyntaxError(`${what} in JSON at position ${this.at}`);
  }

  space(): void {
    SPACE.lastIndex = this.at;
    SPACE.exec(this.text);
    this.at = SPACE.lastIndex;
  }

  token(pattern: RegExp): string | null {
    pattern.lastIndex = this.at;
    const match = pattern.exec(this.text);
    if (match === null) return null;
    this.at = pattern.lastIndex;
    return match[0];
  }

  value(): unknown {
    this.space();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    const literal = this.token(LITERAL);
    if (literal !== null) return literal === 'null' ? null : literal === 'true';
    const number = this.token(NUMBER);
    if (number !== null) return numberValue(number);
    return this.fail(c === undefined ? 'Unexpected end' : `Unexpected token '${c}'`);
  }

  string(): string {
    const token = this.token(STRING);
    if (token === null) this.fail('Bad string');
    return JSON.parse(token) as string;
  }

  array(): unknown[] {
    this.at += 1;
    const items: unknown[] = [];
    this.space();
    if (this.text[this.at] === ']') {
      this.at += 1;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.space();
      const c = this.text[this.at++];
      if (c === ']') return items;
      if (c !== ',') this.fail("Expected ',' or ']'");
    }
  }

  object(): Record<string, unknown> | Map<string, unknown> {
    this.at += 1;
    const entries: Array<[string, unknown]> = [];
    this.space();
    if (this.text[this.at] === '}') {
      this.at += 1;
      return {};
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail('Expected a property name');
      const key = this.string();
      this.space();
      if (this.text[this.at++] !== ':') this.fail("Expected ':'");
      entries.push([key, this.value()]);
      this.space();
      const c = this.text[this.at++];
      if (c === '}') break;
      if (c !== ',') this.fail("Expected ',' or '}'");
    }
    return orderedObject(entries);
  }
}

/**
 * Entries as a plain object, or as a Map when a plain object would not keep their order (an
 * array-index key). A repeated key keeps its first position and its last value, as in Python.
 */
export function orderedObject(
  entries: Iterable<readonly [string, unknown]>,
): Record<string, unknown> | Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (const [key, value] of entries) map.set(key, value);
  if (![...map.keys()].some(isArrayIndexKey)) return Object.fromEntries(map);
  return map;
}

/** Parse JSON keeping Python's int/float distinction and dict order (see the module comment). */
export function parseParametersJson(text: string): unknown {
  const reader = new Reader(text);
  const value = reader.value();
  reader.space();
  if (reader.at < text.length) reader.fail('Unexpected non-whitespace character after JSON');
  return value;
}

/** Exact JSON text of parameter values (see the module comment). */
export function stringifyParametersJson(value: unknown, indent?: number): string {
  const pad = indent === undefined ? '' : ' '.repeat(indent);
  const write = (item: unknown, depth: string): string => {
    if (item === null || item === undefined) return 'null';
    if (typeof item === 'bigint') return item.toString();
    if (typeof item === 'number') return numberJson(item);
    if (item instanceof FloatValue) return floatJson(item.value);
    if (typeof item === 'string' || typeof item === 'boolean') return JSON.stringify(item);
    const inner = depth + pad;
    const open = pad === '' ? '' : `\n${inner}`;
    const close = pad === '' ? '' : `\n${depth}`;
    const comma = pad === '' ? ',' : `,\n${inner}`;
    const colon = pad === '' ? ':' : ': ';
    if (Array.isArray(item)) {
      if (item.length === 0) return '[]';
      return `[${open}${item.map((v) => write(v, inner)).join(comma)}${close}]`;
    }
    const entries =
      item instanceof Map ? [...item.entries()] : Object.entries(item as Record<string, unknown>);
    const members = entries
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(String(k))}${colon}${write(v, inner)}`);
    if (members.length === 0) return '{}';
    return `{${open}${members.join(comma)}${close}}`;
  };
  return write(value, '');
}

function numberJson(value: number): string {
  if (Number.isFinite(value)) return JSON.stringify(value);
  return floatJson(value);
}

function floatJson(value: number): string {
  if (Number.isNaN(value)) {
    throw new TypeError('NaN has no JSON text: a parameter cannot be NaN here');
  }
  if (!Number.isFinite(value)) return value > 0 ? '1e400' : '-1e400';
  return pythonFloatRepr(value);
}
