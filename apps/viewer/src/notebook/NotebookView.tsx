/**
 * A whole notebook, virtualized: only the cells near the viewport are in
 * the DOM (measured as they render, with overscan), so a 2,000-cell
 * notebook opens at once. Works with the window as the scroller or with a
 * given scrolling element. Cells are memoized by value and keyed by cell id,
 * so a live run's re-fetch re-renders only changed cells and the virtualizer
 * keeps the scroll position when cells above the viewport grow.
 */
import { useVirtualizer, useWindowVirtualizer, type Virtualizer } from '@tanstack/react-virtual';
import {
  type MouseEvent,
  type RefObject,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { type CellRunStatus, CellView, cellKey } from './CellView.tsx';
import { grammarName } from './highlight.ts';
import { markdownHeadings } from './markdown.ts';
import type { Cell, JsonValue, MultilineString, NotebookJson } from './nbformat.ts';
import { joinText } from './nbformat.ts';
import { LONG_OUTPUT_LINES } from './outputs/TextOutputs.tsx';
import { authorCellNumbers, failingCellIndex } from './papermill.ts';
import './notebook.css';

export interface NotebookViewProps {
  notebook: NotebookJson;
  /** Live run state by cell index while a run executes (absent for a finished/static notebook). */
  cellStates?: ReadonlyArray<CellRunStatus | undefined>;
  /** Origin of the sandboxed output frame server, e.g. "http://127.0.0.1:8091" (no trailing slash). */
  frameOrigin: string;
  /** Scroll to and highlight this cell index (e.g. the failing cell). */
  focusCell?: number;
  /** Hide all code inputs (a toggle the app shows); papermill report mode hides them per cell anyway. */
  hideCode?: boolean;
  /** papermill's error banner offers a jump to the failing cell (off where the page has one). */
  bannerJump?: boolean;
  /** How papermill's error banner begins (default "Execution failed"). */
  bannerLead?: string;
  /** The element that scrolls (for virtualization); default: the window. */
  scrollElement?: () => HTMLElement | null;
}

const OVERSCAN = 4;

function stringField(object: JsonValue | undefined, key: string): string | undefined {
  const value =
    typeof object === 'object' && object !== null && !Array.isArray(object)
      ? object[key]
      : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** The kernel's language, from language_info or the kernelspec. */
function kernelLanguage(notebook: NotebookJson): string | undefined {
  const metadata = notebook.metadata ?? {};
  return (
    stringField(metadata.language_info, 'name') ?? stringField(metadata.kernelspec, 'language')
  );
}

const MAX_ESTIMATED_LINES = 200;

/** Lines in nbformat text, counted up to a cap without joining or splitting a large log. */
function lineCount(text: MultilineString | undefined): number {
  if (Array.isArray(text)) return Math.min(MAX_ESTIMATED_LINES, text.length);
  if (typeof text !== 'string') return 0;
  let lines = 1;
  for (
    let at = text.indexOf('\n');
    at !== -1 && lines < MAX_ESTIMATED_LINES;
    at = text.indexOf('\n', at + 1)
  )
    lines++;
  return lines;
}

const estimates = new WeakMap<Cell, number>();

/**
 * A first guess at a cell's height before it is measured, so the scrollbar
 * is roughly right. The virtualizer asks for every unmeasured cell each time
 * a cell is measured, so guesses are remembered per cell object.
 */
function estimateCellHeight(cell: Cell | undefined): number {
  if (!cell) return 80;
  const known = estimates.get(cell);
  if (known !== undefined) return known;
  const height = guessHeight(cell);
  estimates.set(cell, height);
  return height;
}

function guessHeight(cell: Cell): number {
  let height = 24 + lineCount(cell.source) * 20;
  if (cell.cell_type === 'code') {
    for (const output of cell.outputs ?? []) {
      // Long texts scroll in a box of LONG_OUTPUT_LINES lines, under a one-line note.
      if (output.output_type === 'stream') {
        const lines = lineCount(output.text);
        height += lines > LONG_OUTPUT_LINES ? (LONG_OUTPUT_LINES + 2) * 18 : lines * 18;
      } else if (output.output_type === 'error') height += 200;
      else height += 'image/png' in (output.data ?? {}) ? 320 : 120;
    }
  }
  return height;
}

type AnyVirtualizer =
  | Virtualizer<Window, HTMLDivElement>
  | Virtualizer<HTMLElement, HTMLDivElement>;

interface ListOptions {
  count: number;
  estimateSize(index: number): number;
  getItemKey(index: number): string;
  scrollMargin: number;
}

function listOptions(base: ListOptions) {
  return { ...base, overscan: OVERSCAN };
}

function WindowCells(props: ListOptions & { render(v: AnyVirtualizer): React.JSX.Element }) {
  const virtualizer = useWindowVirtualizer<HTMLDivElement>(listOptions(props));
  return props.render(virtualizer);
}

function ElementCells(
  props: ListOptions & {
    scrollElement: () => HTMLElement | null;
    render(v: AnyVirtualizer): React.JSX.Element;
  },
) {
  const virtualizer = useVirtualizer<HTMLElement, HTMLDivElement>({
    ...listOptions(props),
    getScrollElement: props.scrollElement,
  });
  return props.render(virtualizer);
}

/** Distance from the top of the scrolled content to the list, so the virtualizer knows where cells start. */
function useScrollMargin(
  listRef: RefObject<HTMLDivElement | null>,
  scrollElement?: () => HTMLElement | null,
): number {
  const [margin, setMargin] = useState(0);
  useLayoutEffect(() => {
    const list = listRef.current;
    if (!list) return;
    const element = scrollElement?.();
    const next = element
      ? list.getBoundingClientRect().top - element.getBoundingClientRect().top + element.scrollTop
      : list.getBoundingClientRect().top + window.scrollY;
    if (Math.abs(next - margin) >= 1) setMargin(Math.round(next));
  });
  return margin;
}

export function NotebookView({
  notebook,
  cellStates,
  frameOrigin,
  focusCell,
  hideCode = false,
  bannerJump = true,
  bannerLead,
  scrollElement,
}: NotebookViewProps) {
  const cells = notebook.cells;
  const grammar = useMemo(() => grammarName(kernelLanguage(notebook)), [notebook]);
  const failingIndex = useMemo(() => failingCellIndex(notebook), [notebook]);
  const numbers = useMemo(() => cellNumbers(cells), [cells]);
  const listRef = useRef<HTMLDivElement>(null);
  const scrollMargin = useScrollMargin(listRef, scrollElement);
  const virtualizerRef = useRef<AnyVirtualizer | null>(null);
  const cellsRef = useRef(cells);
  cellsRef.current = cells;

  const jumpToCell = useCallback((index: number) => {
    virtualizerRef.current?.scrollToIndex(index, { align: 'start' });
  }, []);

  useEffect(() => {
    if (focusCell !== undefined && focusCell >= 0 && focusCell < cellsRef.current.length)
      jumpToCell(focusCell);
  }, [focusCell, jumpToCell]);

  /** In-page links (`#Heading-id`, papermill's error anchor) scroll the virtual list. */
  const onClick = useCallback(
    (event: MouseEvent<HTMLDivElement>) => {
      const link = (event.target as Element).closest?.('a[href^="#"]');
      if (!link || event.defaultPrevented) return;
      const id = decodeURIComponent((link.getAttribute('href') ?? '').slice(1));
      const target =
        id === 'papermill-error-cell' ? failingIndex : findHeadingCell(cellsRef.current, id);
      if (target === null) return;
      event.preventDefault();
      jumpToCell(target);
    },
    [failingIndex, jumpToCell],
  );

  // Stable callbacks: the virtualizer rebuilds its measurements when they change.
  const estimateSize = useCallback(
    (index: number) => estimateCellHeight(cellsRef.current[index]),
    [],
  );
  const getItemKey = useCallback(
    (index: number) => {
      const cell = cells[index];
      return cell ? cellKey(cell, index) : `#${index}`;
    },
    [cells],
  );
  const options: ListOptions = {
    count: cells.length,
    estimateSize,
    getItemKey,
    scrollMargin,
  };

  const render = (virtualizer: AnyVirtualizer) => {
    virtualizerRef.current = virtualizer;
    return (
      // biome-ignore lint/a11y/useKeyWithClickEvents lint/a11y/noStaticElementInteractions: delegates clicks on links, which are keyboard-reachable themselves
      <div
        ref={listRef}
        className="nes-notebook"
        style={{ height: virtualizer.getTotalSize(), position: 'relative' }}
        onClick={onClick}
      >
        {virtualizer.getVirtualItems().map((item) => {
          const cell = cells[item.index];
          return cell === undefined ? null : (
            <div
              key={item.key}
              data-index={item.index}
              ref={virtualizer.measureElement}
              className="nes-cell-slot"
              style={{
                position: 'absolute',
                top: 0,
                left: 0,
                width: '100%',
                transform: `translateY(${item.start - scrollMargin}px)`,
              }}
            >
              <CellView
                cell={cell}
                index={item.index}
                number={numbers[item.index] ?? null}
                failingNumber={failingIndex !== null ? (numbers[failingIndex] ?? null) : null}
                bannerJump={bannerJump}
                bannerLead={bannerLead}
                status={cellStates?.[item.index]}
                grammar={grammar}
                hideCode={hideCode}
                focused={focusCell === item.index}
                frameOrigin={frameOrigin}
                failingIndex={failingIndex}
                onJumpToCell={jumpToCell}
              />
            </div>
          );
        })}
      </div>
    );
  };

  return scrollElement ? (
    <ElementCells {...options} scrollElement={scrollElement} render={render} />
  ) : (
    <WindowCells {...options} render={render} />
  );
}

/** Each cell's number as shown ("Cell 3"): the author's numbering (`authorCellNumbers`). */
function cellNumbers(cells: readonly Cell[]): Array<number | null> {
  return authorCellNumbers(cells);
}

function findHeadingCell(cells: readonly Cell[], id: string): number | null {
  for (const [i, cell] of cells.entries()) {
    if (
      cell.cell_type === 'markdown' &&
      markdownHeadings(joinText(cell.source)).some((h) => h.id === id)
    )
      return i;
  }
  return null;
}
