/**
 * The two pieces of Python that decide nbformat's bytes on disk, reproduced exactly:
 * `str.splitlines(keepends=True)` and `json.dumps(obj, sort_keys=True, indent=1,
 * separators=(",", ": "), ensure_ascii=False)`.
 *
 * Known, unavoidable difference: JavaScript has one number type, so a float with an integral
 * value read from a notebook (Python `1.0`, `1e+20`) is written as an integer (`1`,
 * `100000000000000000000`), and integers beyond 2^53 lose precision when parsed. Non-integral
 * floats match Python's `repr`. Parameter values keep their Python type where the translators'
 * model says so: a `FloatValue` is written as a float (`1.0`), a `bigint` as an exact int.
 * Lone UTF-16 surrogates are written escaped (`\ud800`); Python would fail to encode them.
 * Non-finite floats are written as Python writes them: `NaN`, `Infinity`, `-Infinity`.
 */

import { FloatValue, pythonFloatRepr } from './translators/index.ts';

/** Python's line boundaries: \n, \r, \r\n, \v, \f, \x1c, \x1d, \x1e, \x85, \u2028, \u2029. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are Python's line boundaries.
const LINE_BOUNDARY = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** `text.splitlines(True)`: lines with their terminators; '' gives []. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (const match of text.matchAll(LINE_BOUNDARY)) {
    const end = match.index + match[0].length;
    lines.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** `json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False)`. Skips undefined members. */
export function pythonJsonDumps(value: unknown): string {
  return dump(value, '');
}

function dump(value: unknown, indent: string): string {
  const scalar = dumpScalar(value);
  if (scalar !== null) return scalar;
  const inner = `${indent} `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((item) => `${inner}${dump(item ?? null, inner)}`);
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  const entries = sortedEntries(value as object);
  if (entries.length === 0) return '{}';
  const members = entries.map(
    ([name, member]) => `${inner}${JSON.stringify(name)}: ${dump(member, inner)}`,
  );
  return `{\n${members.join(',\n')}\n${indent}}`;
}

/** The JSON text of a value that is not an array or object; null for those. */
function dumpScalar(value: unknown): string | null {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes exactly what Python's encoder does with ensure_ascii=False:
      // '"', '\\', \b \f \n \r \t, other controls as lowercase \u00XX, nothing above U+001F.
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return pythonNumber(value);
    case 'bigint':
      return value.toString();
    case 'object':
      if (value instanceof FloatValue) return floatValueJson(value.value);
      return null;
    default:
      throw new TypeError(`cannot write a ${typeof value} as JSON`);
  }
}

/** An object's (or Map's) members as `sort_keys=True` orders them, undefined ones left out. */
function sortedEntries(value: object): Array<[string, unknown]> {
  return (
    value instanceof Map
      ? [...value.entries()].map(([k, v]) => [String(k), v] as [string, unknown])
      : Object.entries(value as Record<string, unknown>)
  )
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => compareCodePoints(a, b));
}

/**
 * An array whose items are made one at a time, as they are written: a notebook's cells and
 * outputs are turned into their on-disk form (text split into lines) only while written, so that
 * form never exists for the whole notebook at once.
 */
export class LazyArray<T> {
  readonly items: readonly T[];
  readonly map: (item: T) => unknown;
  constructor(items: readonly T[], map: (item: T) => unknown) {
    this.items = items;
    this.map = map;
  }
}

/**
 * `pythonJsonDumps`, as a sequence of pieces of about `chunkChars` characters or more (one long
 * string is one piece): a large value is written without ever being one string in memory, which
 * costs several times its size while the pieces are joined level by level. Joined, the pieces are
 * exactly `pythonJsonDumps(value)` (LazyArray items written as their `map`).
 */
export function* pythonJsonChunks(value: unknown, chunkChars = 64 * 1024): Generator<string> {
  let buffer = '';
  for (const piece of dumpPieces(value, '')) {
    buffer += piece;
    if (buffer.length >= chunkChars) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}

function* dumpPieces(value: unknown, indent: string): Generator<string> {
  const scalar = dumpScalar(value);
  if (scalar !== null) {
    yield scalar;
    return;
  }
  const inner = `${indent} `;
  if (Array.isArray(value) || value instanceof LazyArray) {
    const items: readonly unknown[] = Array.isArray(value) ? value : value.items;
    if (items.length === 0) {
      yield '[]';
      return;
    }
    const map = value instanceof LazyArray ? value.map : (item: unknown) => item;
    for (let i = 0; i < items.length; i++) {
      yield i === 0 ? `[\n${inner}` : `,\n${inner}`;
      yield* dumpPieces(map(items[i]) ?? null, inner);
    }
    yield `\n${indent}]`;
    return;
  }
  const entries = sortedEntries(value as object);
  if (entries.length === 0) {
    yield '{}';
    return;
  }
  for (let i = 0; i < entries.length; i++) {
    const [name, member] = entries[i] as [string, unknown];
    yield `${i === 0 ? '{\n' : ',\n'}${inner}${JSON.stringify(name)}: `;
    yield* dumpPieces(member, inner);
  }
  yield `\n${indent}}`;
}

/** Python sorts str by code point; JS compares UTF-16 units. They differ only past U+D7FF. */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (which encode U+10000 and above) after U+E000-U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** Integral values as Python ints; others as Python's `float.__repr__`. */
function pythonNumber(value: number): string {
  if (!Number.isFinite(value)) return nonFiniteJson(value);
  if (Number.isInteger(value)) return BigInt(value).toString();
  return pythonFloatRepr(value);
}

/** A float parameter: `1.0` stays `1.0`. */
function floatValueJson(value: number): string {
  return Number.isFinite(value) ? pythonFloatRepr(value) : nonFiniteJson(value);
}

/**
 * Python's json.dumps (allow_nan=True, nbformat's writer) writes `NaN`, `Infinity` and
 * `-Infinity`: not JSON, but what papermill records for `-p x inf` in
 * metadata.papermill.parameters. parseNotebook reads them back as Python's json.loads does.
 */
function nonFiniteJson(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}

/**
 * `json.loads` as Python reads a notebook: JSON plus the bare `NaN`, `Infinity` and `-Infinity`
 * that Python's encoder writes for non-finite floats (papermill's record of `-p x inf`). Plain
 * JSON goes straight to JSON.parse; only text that fails is scanned for those words.
 */
export function pythonJsonLoads(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const marked = markNonFinite(text);
    if (marked === null) throw error;
    return JSON.parse(marked.text, (_key, value: unknown) =>
      typeof value === 'string' && value.startsWith(marked.prefix)
        ? NON_FINITE[value.slice(marked.prefix.length)]
        : value,
    );
  }
}

const NON_FINITE: Record<string, number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

/** The bare words outside strings replaced by marked strings; null when there are none. */
function markNonFinite(text: string): { text: string; prefix: string } | null {
  const prefix = `\u0000nes-non-finite-${Math.random().toString(36).slice(2)}:`;
  const quotedPrefix = JSON.stringify(prefix).slice(1, -1);
  let out = '';
  let last = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // Skip the string, escapes included.
      for (i += 1; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i += 1;
      continue;
    }
    const word = text.startsWith('NaN', i)
      ? 'NaN'
      : text.startsWith('Infinity', i)
        ? 'Infinity'
        : text.startsWith('-Infinity', i)
          ? '-Infinity'
          : null;
    if (word === null) continue;
    out += `${text.slice(last, i)}"${quotedPrefix}${word}"`;
    i += word.length - 1;
    last = i + 1;
    found = true;
  }
  return found ? { text: out + text.slice(last), prefix } : null;
}
