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

/** The banner at the top; `executionCount` null reads `None`, as in Python. */
export function errorMessageMarkdown(executionCount: number | null): string {
  return (
    `<span ${ERROR_STYLE}>An Exception was encountered at ` +
    `'<a href="#papermill-error-cell">In [${executionCount ?? 'None'}]</a>'.</span>`
  );
}

export const ERROR_ANCHOR_MARKDOWN =
  `<span id="papermill-error-cell" ${ERROR_STYLE}>` +
  'Execution using papermill encountered an exception here and stopped:</span>';

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
