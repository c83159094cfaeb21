/**
 * papermill's error banners: when a cell fails, papermill adds a markdown cell at the top
 * ("An Exception was encountered at 'In [N]'") and an anchor cell just before the failing cell,
 * both tagged `papermill-error-cell-tag`. Re-running an output notebook must first remove them
 * (`remove_error_markers`), or banners pile up run after run. Same tag, HTML and wording as
 * papermill, so notebooks move between the two tools cleanly.
 */
import { deterministicCellId } from './cell-ids.ts';
import type { Cell, MarkdownCell, Notebook } from './nbformat.ts';
import { hasTag } from './parameterize.ts';

export const ERROR_MARKER_TAG = 'papermill-error-cell-tag';

const ERROR_STYLE =
  'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"';
const ANCHOR_ID = 'papermill-error-cell';
const BANNER_LEAD = `An Exception was encountered at '<a href="#${ANCHOR_ID}">In [`;
const BANNER_TAIL = "]</a>'.";
const ANCHOR_TEXT = 'Execution using papermill encountered an exception here and stopped:';

/** The banner at the top; `executionCount` null reads `None`, as in Python. */
export function errorMessageMarkdown(executionCount: number | null): string {
  return `<span ${ERROR_STYLE}>${BANNER_LEAD}${executionCount ?? 'None'}${BANNER_TAIL}</span>`;
}

export const ERROR_ANCHOR_MARKDOWN = `<span id="${ANCHOR_ID}" ${ERROR_STYLE}>${ANCHOR_TEXT}</span>`;

/** One of papermill's two error cells, as a reader (the viewer) sees it. */
export type ErrorMarker = { kind: 'banner'; executionCount: string } | { kind: 'anchor' };

const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const BANNER = new RegExp(
  `${literally(BANNER_LEAD)}([^\\]]*)${literally(BANNER_TAIL.slice(0, -1))}`,
);
const ANCHOR = new RegExp(`<span id="${ANCHOR_ID}"[^>]*>${literally(ANCHOR_TEXT)}</span>`);

/**
 * Whether a markdown cell's source is one of papermill's error cells, read with the definitions
 * that write them: by its text (tags can be stripped), else by papermill's tag (the text can
 * differ between papermill versions).
 */
export function readErrorMarker(source: string, tags: readonly string[]): ErrorMarker | null {
  const banner = BANNER.exec(source);
  if (banner) return { kind: 'banner', executionCount: banner[1] ?? '' };
  if (ANCHOR.test(source)) return { kind: 'anchor' };
  if (!tags.includes(ERROR_MARKER_TAG)) return null;
  if (source.includes(`id="${ANCHOR_ID}"`)) return { kind: 'anchor' };
  return { kind: 'banner', executionCount: /In \[(\d*)\]/.exec(source)?.[1] ?? '' };
}

/** papermill's `remove_error_markers`: every cell tagged as an error marker goes. Pure. */
export function removeErrorMarkers(nb: Notebook): Notebook {
  return { ...nb, cells: nb.cells.filter((cell) => !hasTag(cell, ERROR_MARKER_TAG)) };
}

/**
 * What papermill's `raise_for_execution_errors` writes before raising: the anchor just before
 * the failing cell (index in `nb.cells`), then the banner at the top. Pure.
 */
export function addErrorMarkers(
  nb: Notebook,
  failure: { cellIndex: number; executionCount: number | null },
): Notebook {
  const taken = new Set(nb.cells.flatMap((cell) => (cell.id === undefined ? [] : [cell.id])));
  const withIds = nb.nbformat_minor >= 5;
  const marker = (source: string): MarkdownCell => ({
    cell_type: 'markdown',
    ...(withIds ? { id: deterministicCellId(`${ERROR_MARKER_TAG}\0${source}`, taken) } : {}),
    metadata: { tags: [ERROR_MARKER_TAG] },
    source,
  });
  const anchor = marker(ERROR_ANCHOR_MARKDOWN);
  const banner = marker(errorMessageMarkdown(failure.executionCount));
  const cells: Cell[] = [...nb.cells];
  cells.splice(failure.cellIndex, 0, anchor);
  cells.unshift(banner);
  return { ...nb, cells };
}
