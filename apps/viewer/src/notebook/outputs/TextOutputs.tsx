/** Plain-text outputs: streams (merged, terminal-replayed, ANSI colours), tracebacks, text/plain. */
import { memo, useMemo } from 'react';
import { Markup } from '../Markup.tsx';
import { ansiToHtml, applyCarriageReturns } from '../terminal.ts';

export const StreamText = memo(function StreamText({ name, text }: { name: string; text: string }) {
  const html = useMemo(() => ansiToHtml(applyCarriageReturns(text)), [text]);
  const className = name === 'stderr' ? 'nes-output-stream nes-output-stderr' : 'nes-output-stream';
  return (
    <pre className={className} data-stream={name}>
      <Markup as="code" html={html} />
    </pre>
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
