/** Plain-text outputs: streams (merged, terminal-replayed, ANSI colours), tracebacks, text/plain. */
import { memo, useMemo, useState } from 'react';
import { Markup } from '../Markup.tsx';
import { ansiToHtml, applyCarriageReturns } from '../terminal.ts';

/** Characters of a stream shown before "Show all": a runaway log must not freeze the page. */
export const STREAM_LIMIT = 256 * 1024;

/** The end of a long log (where the news is), cut at a line start. */
function tail(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const lineStart = text.indexOf('\n', text.length - limit);
  return lineStart === -1 ? text.slice(-limit) : text.slice(lineStart + 1);
}

function formatSize(chars: number): string {
  return chars >= 1e6 ? `${(chars / 1e6).toFixed(1)} M` : `${Math.ceil(chars / 1e3)} k`;
}

export const StreamText = memo(function StreamText({ name, text }: { name: string; text: string }) {
  const [all, setAll] = useState(false);
  const shown = all ? text : tail(text, STREAM_LIMIT);
  const html = useMemo(() => ansiToHtml(applyCarriageReturns(shown)), [shown]);
  const hidden = text.length - shown.length;
  const className = name === 'stderr' ? 'nes-output-stream nes-output-stderr' : 'nes-output-stream';
  return (
    <>
      {hidden > 0 && (
        <p className="nes-output-note">
          {formatSize(hidden)} characters of earlier output not shown.{' '}
          <button type="button" className="nes-link-button" onClick={() => setAll(true)}>
            Show all
          </button>
        </p>
      )}
      <pre className={className} data-stream={name}>
        <Markup as="code" html={html} />
      </pre>
    </>
  );
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
  const html = useMemo(() => ansiToHtml(applyCarriageReturns(text)), [text]);
  return (
    <section className="nes-output-error" aria-label={`Error: ${ename}`}>
      <pre>
        <Markup as="code" html={html} />
      </pre>
    </section>
  );
});

export function PlainText({ text }: { text: string }) {
  const html = useMemo(() => ansiToHtml(applyCarriageReturns(text)), [text]);
  return (
    <pre className="nes-output-text">
      <Markup as="code" html={html} />
    </pre>
  );
}
