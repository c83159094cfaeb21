/**
 * Split a cell's source into logical statements the way a tokenizer would, for the parameter
 * inspectors. papermill inspects Python with `ast` and `tokenize`; NES has no Python in the API,
 * so this scanner knows just enough lexing (strings, comments, brackets, continuations, `;`) to
 * find where statements start and end and which `#` starts a comment.
 */

export interface Lexicon {
  /** Characters that open (and close) a string. */
  quotes: string;
  /** Python's `'''` and `"""`. */
  tripleQuotes: boolean;
  /** A line whose code ends like this continues on the next line (R's trailing operators). */
  continuesAfter?: RegExp;
  /** A physical line that starts a statement and matches is ignored (IPython `%magic`, `!cmd`). */
  ignoredLine?: RegExp;
}

export interface Statement {
  /** 1-based line where the statement starts. */
  line: number;
  /** Leading whitespace width of that line. */
  indent: number;
  /** The code, comments removed, each physical line stripped and joined as papermill does. */
  code: string;
  /** Text after `#` on the statement's last line, or undefined; only the last of `a; b` gets it. */
  comment: string | undefined;
}

interface ScanState {
  depth: number;
  /** The open string's delimiter (`"`, `'''`, ...), or undefined outside strings. */
  openQuote: string | undefined;
}

/** Scan one physical line: its code split at top-level `;`, and its comment. */
function scanLine(
  text: string,
  lexicon: Lexicon,
  state: ScanState,
): { pieces: string[]; comment: string | undefined; backslash: boolean } {
  const pieces: string[] = [''];
  let comment: string | undefined;
  let i = 0;
  const append = (chunk: string) => {
    pieces[pieces.length - 1] += chunk;
  };
  while (i < text.length) {
    const character = text.charAt(i);
    if (state.openQuote !== undefined) {
      if (character === '\\') {
        append(text.slice(i, i + 2));
        i += 2;
        continue;
      }
      if (text.startsWith(state.openQuote, i)) {
        append(state.openQuote);
        i += state.openQuote.length;
        state.openQuote = undefined;
        continue;
      }
      append(character);
      i += 1;
      continue;
    }
    if (character === '#') {
      comment = text.slice(i + 1);
      break;
    }
    if (lexicon.quotes.includes(character)) {
      const triple = character.repeat(3);
      state.openQuote = lexicon.tripleQuotes && text.startsWith(triple, i) ? triple : character;
      append(state.openQuote);
      i += state.openQuote.length;
      continue;
    }
    if ('([{'.includes(character)) state.depth += 1;
    else if (')]}'.includes(character)) state.depth = Math.max(0, state.depth - 1);
    if (character === ';' && state.depth === 0) pieces.push('');
    else append(character);
    i += 1;
  }
  // A single-quoted string cannot span lines (except after a backslash): close it, as a
  // tokenizer would report an error and resynchronise at the next line.
  const lastPiece = pieces[pieces.length - 1] ?? '';
  const backslash = state.openQuote === undefined && comment === undefined && /\\$/.test(lastPiece);
  if (backslash) pieces[pieces.length - 1] = lastPiece.slice(0, -1);
  if (state.openQuote !== undefined && state.openQuote.length === 1 && !/\\$/.test(lastPiece)) {
    state.openQuote = undefined;
  }
  return { pieces, comment, backslash };
}

export function splitStatements(source: string, lexicon: Lexicon): Statement[] {
  const statements: Statement[] = [];
  const state: ScanState = { depth: 0, openQuote: undefined };
  let current: { line: number; indent: number; codes: string[] } | undefined;
  let inside = false; // within a statement that continues over lines

  const lines = source.split(/\r\n|\r|\n/);
  lines.forEach((text, index) => {
    if (!inside && lexicon.ignoredLine?.test(text)) return;
    if (!inside) {
      current = { line: index + 1, indent: text.length - text.trimStart().length, codes: [''] };
    }
    const open = current ?? { line: index + 1, indent: 0, codes: [''] };
    const { pieces, comment, backslash } = scanLine(text, lexicon, state);
    pieces.forEach((piece, pieceIndex) => {
      if (pieceIndex > 0) open.codes.push('');
      open.codes[open.codes.length - 1] += piece.trim();
    });
    const lastCode = open.codes[open.codes.length - 1] ?? '';
    inside =
      state.depth > 0 ||
      state.openQuote !== undefined ||
      backslash ||
      (lexicon.continuesAfter?.test(lastCode) ?? false);
    if (inside) return;
    open.codes.forEach((code, codeIndex) => {
      if (code === '') return;
      const isLast = codeIndex === open.codes.length - 1;
      statements.push({
        line: open.line,
        indent: open.indent,
        code,
        comment: isLast ? comment : undefined,
      });
    });
    current = undefined;
  });
  // An unterminated statement at the end of the cell is still reported, as written.
  if (inside && current !== undefined) {
    for (const code of current.codes) {
      if (code !== '') {
        statements.push({ line: current.line, indent: current.indent, code, comment: undefined });
      }
    }
  }
  return statements;
}

/** Index of each top-level occurrence (outside strings and brackets) of `test` in `code`. */
export function topLevelIndices(
  code: string,
  quotes: string,
  test: (code: string, index: number) => boolean,
): number[] {
  const found: number[] = [];
  let depth = 0;
  let openQuote: string | undefined;
  for (let i = 0; i < code.length; i++) {
    const character = code.charAt(i);
    if (openQuote !== undefined) {
      if (character === '\\') i += 1;
      else if (code.startsWith(openQuote, i)) {
        i += openQuote.length - 1;
        openQuote = undefined;
      }
      continue;
    }
    if (quotes.includes(character)) {
      const triple = character.repeat(3);
      openQuote = code.startsWith(triple, i) ? triple : character;
      i += openQuote.length - 1;
    } else if ('([{'.includes(character)) depth += 1;
    else if (')]}'.includes(character)) depth -= 1;
    else if (depth === 0 && test(code, i)) found.push(i);
  }
  return found;
}
