/**
 * Stream text as a terminal would show it. Progress bars (tqdm, pip) redraw
 * a line with `\r` and erase with `\b`; a notebook keeps every redraw, so we
 * replay the text over a line buffer: `\r` returns to the start of the line,
 * `\b` steps back one column, later characters overwrite earlier ones, and
 * `\r\n` is an ordinary newline. ANSI escape sequences take no column; they
 * stay in front of the character that follows them so colours survive.
 * ansi_up then turns the colours into HTML (escaping everything else).
 * Results are cached by text, so a cell scrolled back into view (remounted
 * by the virtual list) costs a lookup, not a replay.
 */
import { AnsiUp } from 'ansi_up';
import { type CleanHtml, cleanHtml } from './Markup.tsx';

const TOKEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal control characters are the point
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\r\n|\r|\n|\x08|[^\x1b\r\n\x08]+/g;

/** Applies `\r` and `\b` the way a terminal does; text without them is returned as is. */
export function applyCarriageReturns(text: string): string {
  if (!text.includes('\r') && !text.includes('\b')) return text;
  const lines: string[] = [];
  let chars: string[] = []; // the visible characters of the current line
  let prefixes: string[] = []; // escape sequences in front of each character
  let pending = ''; // escape sequences not yet followed by a character
  let column = 0;

  const endLine = () => {
    let line = '';
    for (const [i, char] of chars.entries()) line += (prefixes[i] ?? '') + char;
    lines.push(line + pending);
    chars = [];
    prefixes = [];
    pending = '';
    column = 0;
  };

  for (const [token] of text.matchAll(TOKEN)) {
    if (token === '\n' || token === '\r\n') endLine();
    else if (token === '\r') column = 0;
    else if (token === '\b') column = Math.max(0, column - 1);
    else if (token.charCodeAt(0) === 0x1b) pending += token;
    else {
      for (const char of token) {
        if (column < chars.length) {
          chars[column] = char;
          prefixes[column] += pending;
        } else {
          chars.push(char);
          prefixes.push(pending);
        }
        pending = '';
        column++;
      }
    }
  }
  if (chars.length > 0 || pending) endLine();
  else lines.push('');
  return lines.join('\n');
}

/** Escaped HTML with ANSI colours as inline styles. */
export function ansiToHtml(text: string): CleanHtml {
  const ansi = new AnsiUp(); // one per text: ansi_up carries colour state between calls
  ansi.escape_html = true;
  return cleanHtml(ansi.ansi_to_html(text));
}

const CACHE_LIMIT = 300;
/** Texts longer than this are converted, not remembered (the caller shows only a tail anyway). */
const CACHE_MAX_CHARS = 512 * 1024;
const cache = new Map<string, CleanHtml>();

/** Terminal text (`\r`/`\b` replayed, ANSI colours) as escaped HTML, remembered by text. */
export function terminalHtml(text: string): CleanHtml {
  const cacheable = text.length <= CACHE_MAX_CHARS;
  if (cacheable) {
    const hit = cache.get(text);
    if (hit !== undefined) {
      // Most recently used last, so the oldest entry is the one dropped.
      cache.delete(text);
      cache.set(text, hit);
      return hit;
    }
  }
  const html = ansiToHtml(applyCarriageReturns(text));
  if (cacheable) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(text, html);
  }
  return html;
}
