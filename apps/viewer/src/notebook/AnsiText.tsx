/**
 * One line of terminal text outside a notebook (a run's log): ANSI colours
 * shown as colours, `\r` redraws replayed, everything else escaped.
 */
import { memo, useMemo } from 'react';
import { Markup } from './Markup.tsx';
import { ansiToHtml, applyCarriageReturns } from './terminal.ts';

export const AnsiText = memo(function AnsiText({
  text,
  className,
}: {
  text: string;
  className?: string;
}) {
  const html = useMemo(() => ansiToHtml(applyCarriageReturns(text)), [text]);
  return <Markup as="span" className={className} html={html} />;
});
