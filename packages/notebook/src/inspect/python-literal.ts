/**
 * Python literal source text to JSON, for schema defaults: what `ast.literal_eval` would accept
 * and JSON can hold. `None`, `True`, `1e-3`, `'s'`, `r"raw"`, `'a' 'b'`, lists, tuples (as
 * arrays) and dicts with string keys. Anything else (names, calls, sets, bytes, f-strings,
 * complex numbers, non-string keys, ints JavaScript cannot hold exactly) gives undefined.
 */
import type { JsonValue } from '../nbformat.ts';

class NotALiteral extends Error {}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\n': '',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\u0007',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

function unescapePython(body: string): string {
  return body.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|N\{[^}]*\}|[\s\S])/g,
    (whole, sequence: string) => {
      const simple = SIMPLE_ESCAPES[sequence];
      if (simple !== undefined) return simple;
      const head = sequence.charAt(0);
      if (head === 'x' || head === 'u' || head === 'U') {
        const codePoint = Number.parseInt(sequence.slice(1), 16);
        if (codePoint > 0x10ffff) throw new NotALiteral();
        return String.fromCodePoint(codePoint);
      }
      if (/^[0-7]/.test(sequence)) return String.fromCodePoint(Number.parseInt(sequence, 8));
      if (head === 'N') throw new NotALiteral(); // \N{NAME} needs the Unicode name table
      return whole; // Python keeps unknown escapes as written
    },
  );
}

const DIGITS = String.raw`\d(?:_?\d)*`;
const NUMBER = new RegExp(
  String.raw`^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:${DIGITS})?\.?(?:${DIGITS})?(?:[eE][+-]?${DIGITS})?[jJ]?)`,
);
const STRING = /^([rRuUbBfF]{0,2})('''|"""|'|")/;

class Parser {
  private position = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  parse(): JsonValue {
    const value = this.value();
    this.skipSpace();
    if (this.position !== this.text.length) throw new NotALiteral();
    return value;
  }

  private skipSpace(): void {
    while (/\s/.test(this.text.charAt(this.position))) this.position += 1;
  }

  private peek(): string {
    this.skipSpace();
    return this.text.charAt(this.position);
  }

  private expect(character: string): void {
    if (this.peek() !== character) throw new NotALiteral();
    this.position += 1;
  }

  private value(): JsonValue {
    const next = this.peek();
    if (next === '-' || next === '+') {
      this.position += 1;
      const operand = this.value();
      // literal_eval allows a sign on numbers only.
      if (typeof operand !== 'number') throw new NotALiteral();
      return next === '-' ? -operand : operand;
    }
    if (next === '[') return this.sequence('[', ']');
    if (next === '(') return this.parenthesized();
    if (next === '{') return this.dict();
    if (/[0-9.]/.test(next)) return this.number();
    const rest = this.text.slice(this.position);
    if (STRING.test(rest)) return this.strings();
    const word = /^[A-Za-z_]\w*/.exec(rest)?.[0];
    this.position += word?.length ?? 0;
    if (word === 'None') return null;
    if (word === 'True') return true;
    if (word === 'False') return false;
    throw new NotALiteral();
  }

  private number(): number {
    const text = NUMBER.exec(this.text.slice(this.position))?.[0] ?? '';
    if (text === '' || text === '.' || /[jJ]$/.test(text)) throw new NotALiteral();
    this.position += text.length;
    const clean = text.replaceAll('_', '');
    const isFloat = !/^0[xXoObB]/.test(clean) && /[.eE]/.test(clean);
    if (isFloat) return Number(clean);
    if (/^0\d/.test(clean) && /[1-9]/.test(clean)) throw new NotALiteral(); // 012 is a syntax error
    const integer = BigInt(clean);
    if (integer > BigInt(Number.MAX_SAFE_INTEGER) || integer < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new NotALiteral();
    }
    return Number(integer);
  }

  /** One or more adjacent string literals, concatenated as Python does. */
  private strings(): string {
    let result = '';
    for (;;) {
      const rest = this.text.slice(this.position);
      const match = STRING.exec(rest);
      if (match === null) return result;
      const prefix = (match[1] ?? '').toLowerCase();
      const quote = match[2] ?? '';
      if (prefix.includes('b') || prefix.includes('f') || /u./.test(prefix) || prefix === 'rr') {
        throw new NotALiteral();
      }
      let end = match[0].length;
      for (;;) {
        if (end >= rest.length) throw new NotALiteral();
        if (rest.charAt(end) === '\\') end += 2;
        else if (rest.startsWith(quote, end)) break;
        else if (quote.length === 1 && rest.charAt(end) === '\n') throw new NotALiteral();
        else end += 1;
      }
      const body = rest.slice(match[0].length, end);
      result += prefix.includes('r') ? body : unescapePython(body);
      this.position += end + quote.length;
      this.skipSpace();
    }
  }

  private sequence(open: string, close: string): JsonValue[] {
    this.expect(open);
    const items: JsonValue[] = [];
    while (this.peek() !== close) {
      items.push(this.value());
      if (this.peek() !== ',') break;
      this.position += 1;
    }
    this.expect(close);
    return items;
  }

  /** `(x)` is x; `()`, `(x,)` and `(x, y)` are tuples, which JSON holds as arrays. */
  private parenthesized(): JsonValue {
    const start = this.position;
    this.expect('(');
    if (this.peek() === ')') {
      this.position += 1;
      return [];
    }
    const first = this.value();
    if (this.peek() === ')') {
      this.position += 1;
      return first;
    }
    this.position = start;
    return this.sequence('(', ')');
  }

  private dict(): JsonValue {
    this.expect('{');
    const entries: Array<[string, JsonValue]> = [];
    while (this.peek() !== '}') {
      const key = this.value();
      if (typeof key !== 'string') throw new NotALiteral(); // sets, or keys JSON cannot hold
      this.expect(':');
      entries.push([key, this.value()]);
      if (this.peek() !== ',') break;
      this.position += 1;
    }
    this.expect('}');
    // Object.fromEntries makes "__proto__" an own key, as JSON.parse does.
    return Object.fromEntries(entries);
  }
}

export function parsePythonLiteral(text: string): JsonValue | undefined {
  try {
    return new Parser(text).parse();
  } catch (error) {
    if (error instanceof NotALiteral || error instanceof SyntaxError) return undefined;
    throw error;
  }
}
