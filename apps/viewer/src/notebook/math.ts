/**
 * Splits LaTeX out of markdown before the markdown parser can mangle it
 * (underscores turning into emphasis, backslashes eaten as escapes), the way
 * JupyterLab's `removeMath` does, and puts the rendered math back afterwards.
 *
 * Delimiters: `$..$`, `$$..$$`, `\(..\)`, `\[..\]` (and the doubled-backslash
 * forms `\\(..\\)`, `\\[..\\]` that notebooks written for MathJax use), and a
 * bare `\begin{env}..\end{env}`. A `$` inside a code span or fence is not
 * math, nor is an escaped `\$`. Math never spans a blank line.
 */

export interface MathSpan {
  /** The TeX between the delimiters (the whole environment for `\begin`). */
  tex: string;
  display: boolean;
  /** The source text exactly as written, for fallbacks. */
  source: string;
  /** Text that merely looked like a placeholder: put back as it was, never typeset. */
  literal?: boolean;
}

export interface SplitMath {
  /** The markdown with each math span replaced by `@@n@@`. */
  text: string;
  math: MathSpan[];
}

const MATH_SPLIT =
  /(\$\$?|\\(?:begin|end)\{[a-z]*\*?\}|\\\\[()[\]]|\\[{}$()[\]]|[{}]|(?:\n\s*)+|@@\d+@@)/i;

/** Where a math span that starts with `open` ends. */
function closingDelimiter(open: string): string | null {
  if (open === '$' || open === '$$') return open;
  if (open === '\\(') return '\\)';
  if (open === '\\[') return '\\]';
  if (open === '\\\\(') return '\\\\)';
  if (open === '\\\\[') return '\\\\]';
  if (open.startsWith('\\begin')) return `\\end${open.slice(6)}`;
  return null;
}

function toSpan(source: string): MathSpan {
  if (source.startsWith('$$')) return { tex: source.slice(2, -2), display: true, source };
  if (source.startsWith('$')) return { tex: source.slice(1, -1), display: false, source };
  if (source.startsWith('\\\\(')) return { tex: source.slice(3, -3), display: false, source };
  if (source.startsWith('\\\\[')) return { tex: source.slice(3, -3), display: true, source };
  if (source.startsWith('\\(')) return { tex: source.slice(2, -2), display: false, source };
  if (source.startsWith('\\[')) return { tex: source.slice(2, -2), display: true, source };
  return { tex: source, display: true, source };
}

/**
 * Hides code spans and fences from the math scanner: `~` becomes `~T` and a
 * `$` inside code becomes `~D`, undone by `restore`.
 */
function protectCode(text: string): { text: string; restore: (s: string) => string } {
  if (!text.includes('`') && !text.includes('~~~')) return { text, restore: (s) => s };
  const protectedText = text
    .replace(/~/g, '~T')
    .replace(/^(?<fence>`{3,}|(~T){3,})[^`\n]*\n([\s\S]*?)^\k<fence>`*$/gm, (fence) =>
      fence.replace(/\$/g, '~D'),
    )
    .replace(/(^|[^\\])(`+)([^\n]*?[^`\n])\2(?!`)/gm, (span) => span.replace(/\$/g, '~D'));
  return {
    text: protectedText,
    restore: (s) => s.replace(/~([TD])/g, (_, c: string) => (c === 'T' ? '~' : '$')),
  };
}

export function removeMath(markdown: string): SplitMath {
  const math: MathSpan[] = [];
  const { text, restore } = protectCode(markdown.replace(/\r\n?/g, '\n'));
  const blocks = text.split(MATH_SPLIT);
  let start: number | null = null;
  let end: string | null = null;
  let last: number | null = null;
  let braces = 0;

  const collapse = (from: number, to: number) => {
    const source = restore(blocks.slice(from, to + 1).join(''));
    for (let k = from + 1; k <= to; k++) blocks[k] = '';
    blocks[from] = `@@${math.length}@@`;
    math.push(toSpan(source));
  };

  for (let i = 1; i < blocks.length; i += 2) {
    const block = blocks[i] ?? '';
    if (block.startsWith('@')) {
      // Text that already looks like a placeholder is stored and restored verbatim.
      blocks[i] = `@@${math.length}@@`;
      math.push({ tex: block, display: false, source: block, literal: true });
      continue;
    }
    if (start === null) {
      const close = closingDelimiter(block);
      if (close !== null && !block.startsWith('\\end')) {
        start = i;
        end = close;
        braces = 0;
      }
      continue;
    }
    if (block === end) {
      if (braces) {
        last = i;
      } else {
        collapse(start, i);
        start = end = last = null;
      }
    } else if (/\n.*\n/.test(block)) {
      if (last !== null) {
        i = last;
        collapse(start, i);
      }
      start = end = last = null;
      braces = 0;
    } else if (block === '{') {
      braces++;
    } else if (block === '}' && braces) {
      braces--;
    }
  }
  if (start !== null && last !== null) collapse(start, last);
  return { text: restore(blocks.join('')), math };
}

/** Replaces each `@@n@@` in `html` with `render(math[n])`. */
export function replaceMath(
  html: string,
  math: readonly MathSpan[],
  render: (span: MathSpan) => string,
): string {
  if (math.length === 0) return html;
  return html.replace(/@@(\d+)@@/g, (whole, n: string) => {
    const span = math[Number(n)];
    return span ? render(span) : whole;
  });
}
