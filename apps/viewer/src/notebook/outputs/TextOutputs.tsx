/**
 * Plain-text outputs: streams (merged, terminal-replayed, ANSI colours), tracebacks, text/plain.
 * A long text (a training log, a big repr) scrolls in a box of its own, as in JupyterLab and
 * Colab, and only its end is rendered until the reader asks for all of it: mounting a cell
 * while the notebook scrolls must stay cheap, whatever its outputs hold.
 */
import { memo, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Markup } from '../Markup.tsx';
import { terminalHtml } from '../terminal.ts';

/** Lines above which a text scrolls in a box (its CSS max-height is as many lines). */
export const LONG_OUTPUT_LINES = 30;
/** Lines of a long text rendered before "Show all": its end, where the news is. */
export const TAIL_LINES = 200;
/** Characters rendered before "Show all", however few lines they make. */
export const STREAM_LIMIT = 32 * 1024;

export interface Excerpt {
  /** The text to render: all of it, or its end cut at a line start. */
  shown: string;
  /** Whether the text is long enough to scroll in a box. */
  long: boolean;
  /** Whole lines left out in front of `shown` (0 when the cut is inside one long line). */
  hiddenLines: number;
  /** Characters left out in front of `shown`. */
  hiddenChars: number;
}

/** Whether a text has more than `limit` lines, counted without splitting it. */
function moreLinesThan(text: string, limit: number): boolean {
  let lines = 0;
  for (
    let at = text.indexOf('\n');
    at !== -1 && at < text.length - 1;
    at = text.indexOf('\n', at + 1)
  )
    if (++lines >= limit) return true;
  return false;
}

/** Start of the last `lines` lines of a text (a trailing newline ends a line, it starts none). */
function startOfLastLines(text: string, lines: number): number {
  let at = text.endsWith('\n') ? text.length - 1 : text.length;
  for (let n = 0; n < lines; n++) {
    at = text.lastIndexOf('\n', at - 1);
    if (at === -1) return 0;
  }
  return at + 1;
}

function countLines(text: string, end: number): number {
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < end; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** What of a text to render before "Show all". */
export function excerpt(text: string): Excerpt {
  const long = text.length > STREAM_LIMIT || moreLinesThan(text, LONG_OUTPUT_LINES);
  if (!long) return { shown: text, long, hiddenLines: 0, hiddenChars: 0 };
  let start = startOfLastLines(text, TAIL_LINES);
  if (text.length - start > STREAM_LIMIT) {
    const lineStart = text.indexOf('\n', text.length - STREAM_LIMIT);
    start =
      lineStart === -1 || lineStart === text.length - 1
        ? text.length - STREAM_LIMIT
        : lineStart + 1;
  }
  return {
    shown: text.slice(start),
    long,
    hiddenLines: countLines(text, start),
    hiddenChars: start,
  };
}

function formatSize(chars: number): string {
  return chars >= 1e6 ? `${(chars / 1e6).toFixed(1)} M` : `${Math.ceil(chars / 1e3)} k`;
}

/** Lines of a text, its last one counted whether or not a newline ends it. */
function lineTotal(text: string): number {
  return countLines(text, text.length) + (text === '' || text.endsWith('\n') ? 0 : 1);
}

function hiddenNote({ shown, hiddenLines, hiddenChars }: Excerpt): string {
  if (hiddenLines > 0)
    return `${hiddenLines.toLocaleString('en')} earlier ${hiddenLines === 1 ? 'line' : 'lines'} not shown.`;
  if (hiddenChars > 0) return `${formatSize(hiddenChars)} characters of earlier output not shown.`;
  return `${lineTotal(shown).toLocaleString('en')} lines.`;
}

/** Terminal text, boxed and cut to its end when long. */
function TerminalText({
  text,
  className,
  stream,
}: {
  text: string;
  className: string;
  stream?: string;
}) {
  const [all, setAll] = useState(false);
  const part = useMemo(() => excerpt(text), [text]);
  const shown = all ? text : part.shown;
  const html = useMemo(() => terminalHtml(shown), [shown]);
  const boxed = part.long && !all;
  const box = useRef<HTMLPreElement>(null);
  // A long output opens on its end, like a terminal (again when its text changes).
  // biome-ignore lint/correctness/useExhaustiveDependencies: html is the trigger to scroll
  useLayoutEffect(() => {
    const pre = box.current;
    if (boxed && pre) pre.scrollTop = pre.scrollHeight;
  }, [boxed, html]);
  return (
    <>
      {part.long && (
        <p className="nes-output-note">
          {all ? 'All of the output shown.' : hiddenNote(part)}{' '}
          <button type="button" className="nes-link-button" onClick={() => setAll(!all)}>
            {all ? 'Collapse' : 'Show all'}
          </button>
        </p>
      )}
      <pre
        ref={box}
        className={boxed ? `${className} nes-output-scroll` : className}
        data-stream={stream}
      >
        <Markup as="code" html={html} />
      </pre>
    </>
  );
}

export const StreamText = memo(function StreamText({ name, text }: { name: string; text: string }) {
  const className = name === 'stderr' ? 'nes-output-stream nes-output-stderr' : 'nes-output-stream';
  return <TerminalText text={text} className={className} stream={name} />;
});

export const ErrorText = memo(function ErrorText({
  ename,
  evalue,
  traceback,
}: {
  ename: string;
  evalue: string;
  traceback: string[];
}) {
  const text = traceback.length > 0 ? traceback.join('\n') : `${ename}: ${evalue}`;
  const html = useMemo(() => terminalHtml(text), [text]);
  return (
    <section className="nes-output-error" aria-label={`Error: ${ename}`}>
      <pre>
        <Markup as="code" html={html} />
      </pre>
    </section>
  );
});

export function PlainText({ text }: { text: string }) {
  return <TerminalText text={text} className="nes-output-text" />;
}
