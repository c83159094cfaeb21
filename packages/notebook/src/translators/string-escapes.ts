/**
 * String escaping shared by papermill's translators. papermill runs every string through Python's
 * `unicode_escape` codec and then escapes the quote character of the target language, so the
 * same rules are reproduced here code point by code point.
 */

function hex(codePoint: number, width: number): string {
  return codePoint.toString(16).padStart(width, '0');
}

/** Python's `text.encode('unicode_escape').decode('utf-8')`. Quotes are left alone. */
export function pythonUnicodeEscape(text: string): string {
  let escaped = '';
  // for...of walks code points; a lone surrogate comes through as itself, as in Python.
  for (const character of text) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (character === '\\') escaped += '\\\\';
    else if (codePoint >= 0x10000) escaped += `\\U${hex(codePoint, 8)}`;
    else if (codePoint >= 0x100) escaped += `\\u${hex(codePoint, 4)}`;
    else if (character === '\t') escaped += '\\t';
    else if (character === '\n') escaped += '\\n';
    else if (character === '\r') escaped += '\\r';
    else if (codePoint < 0x20 || codePoint >= 0x7f) escaped += `\\x${hex(codePoint, 2)}`;
    else escaped += character;
  }
  return escaped;
}

/**
 * papermill's default string literal: `unicode_escape`, then `"` becomes `quoteEscape`, wrapped in
 * double quotes. Python, R, Julia, Scala and C# use `\"`; MATLAB `""`; PowerShell `` `" ``.
 */
export function doubleQuotedEscaped(text: string, quoteEscape = '\\"'): string {
  return `"${pythonUnicodeEscape(text).replaceAll('"', quoteEscape)}"`;
}

/** MATLAB char array: `unicode_escape`, then `'` doubled, in single quotes. */
export function singleQuotedEscaped(text: string): string {
  return `'${pythonUnicodeEscape(text).replaceAll("'", "''")}'`;
}

// Python's shlex: these ASCII characters never need quoting.
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Python's `shlex.quote`: bare when safe, otherwise single-quoted with `'` spliced as `'"'"'`. */
export function shellQuote(text: string): string {
  if (text === '') return "''";
  if (SHELL_SAFE.test(text)) return text;
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}
