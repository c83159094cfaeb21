/**
 * The notebook's markdown headings as a navigable outline. It is a plain
 * list of links; the page wraps it in its own navigation landmark.
 */
import { useMemo } from 'react';
import { type Heading, markdownHeadings } from './markdown.ts';
import type { NotebookJson } from './nbformat.ts';
import { joinText } from './nbformat.ts';
import './notebook.css';

export interface TocEntry extends Heading {
  cellIndex: number;
}

function tableOfContents(notebook: NotebookJson): TocEntry[] {
  const entries: TocEntry[] = [];
  notebook.cells.forEach((cell, cellIndex) => {
    if (cell.cell_type !== 'markdown') return;
    for (const heading of markdownHeadings(joinText(cell.source)))
      entries.push({ ...heading, cellIndex });
  });
  return entries;
}

export function TableOfContents({
  notebook,
  onSelect,
}: {
  notebook: NotebookJson;
  onSelect(cellIndex: number): void;
}) {
  const entries = useMemo(() => tableOfContents(notebook), [notebook]);
  const top = entries.reduce((min, entry) => Math.min(min, entry.level), 6);
  return (
    <div className="nes-toc">
      {entries.length === 0 ? (
        <p className="nes-toc-empty">No headings.</p>
      ) : (
        <ul>
          {entries.map((entry) => (
            <li
              key={`${entry.cellIndex}:${entry.id}`}
              style={{ paddingLeft: `${(entry.level - top) * 0.9}em` }}
            >
              <a
                href={`#${encodeURIComponent(entry.id)}`}
                onClick={(event) => {
                  event.preventDefault();
                  onSelect(entry.cellIndex);
                }}
              >
                {entry.text}
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
