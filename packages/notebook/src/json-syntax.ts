/**
 * Where JSON text goes wrong. V8's JSON.parse messages do not always carry a position
 * ("Unexpected token ','" has none), so on failure this small scanner walks the text again and
 * reports the first offending offset, with 1-based line and column for people.
 */

export interface JsonSyntaxProblem {
  offset: number;
  line: number;
  column: number;
  reason: string;
}

class Problem extends Error {
  readonly offset: number;
  constructor(offset: number, reason: string) {
    super(reason);
    this.offset = offset;
  }
}

/** The first syntax error in `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  try {
    const end = skipWhitespace(text, value(text, skipWhitespace(text, 0)));
    if (end < text.length) throw new Problem(end, 'unexpected content after the JSON value');
    return undefined;
  } catch (error) {
    if (!(error instanceof Problem)) throw error;
    const before = text.slice(0, error.offset);
    const lineStart = before.lastIndexOf('\n') + 1;
    return {
      offset: error.offset,
      line: before.split('\n').length,
      column: error.offset - lineStart + 1,
      reason: error.message,
    };
  }
}

function skipWhitespace(text: string, at: number): number {
  let i = at;
  while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  return i;
}

function describeAt(text: string, at: number): string {
  return at >= text.length
    ? 'unexpected end of text'
    : `unexpected ${JSON.stringify(text.charAt(at))}`;
}

/** Parses one value starting at `at` (no leading whitespace); returns the offset after it. */
function value(text: string, at: number): number {
  const char = text.charAt(at);
  if (char === '{') return container(text, at, '}', true);
  if (char === '[') return container(text, at, ']', false);
  if (char === '"') return string(text, at);
  for (const literal of ['true', 'false', 'null']) {
    if (text.startsWith(literal, at)) return at + literal.length;
  }
  const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
  if (number !== null && number[0] !== '-') return at + number[0].length;
  throw new Problem(at, `${describeAt(text, at)}, expected a value`);
}

function container(text: string, at: number, close: string, isObject: boolean): number {
  let i = skipWhitespace(text, at + 1);
  if (text.charAt(i) === close) return i + 1;
  for (;;) {
    if (isObject) {
      if (text.charAt(i) !== '"')
        throw new Problem(i, `${describeAt(text, i)}, expected a property name`);
      i = skipWhitespace(text, string(text, i));
      if (text.charAt(i) !== ':') throw new Problem(i, `${describeAt(text, i)}, expected ':'`);
      i = skipWhitespace(text, i + 1);
    }
    i = skipWhitespace(text, value(text, i));
    const next = text.charAt(i);
    if (next === close) return i + 1;
    if (next !== ',') throw new Problem(i, `${describeAt(text, i)}, expected ',' or '${close}'`);
    i = skipWhitespace(text, i + 1);
  }
}

function string(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const char = text.charAt(i);
    if (char === '"') return i + 1;
    if (char === '\\') {
      const escaped = text.charAt(i + 1);
      if (escaped === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          throw new Problem(i, 'invalid \\u escape in a string');
        }
        i += 5;
      } else if ('"\\/bfnrt'.includes(escaped) && escaped !== '') {
        i += 1;
      } else {
        throw new Problem(i, 'invalid escape in a string');
      }
    } else if (char < ' ') {
      throw new Problem(i, 'unescaped control character in a string');
    }
  }
  throw new Problem(text.length, 'unexpected end of text inside a string');
}
