/**
 * What papermill writes into an executed notebook, read back as meaning:
 * the error banner and anchor cells it inserts on failure, the parameters
 * cells, per-cell status and timing, and report mode's hidden inputs.
 */
import { type ErrorMarker, readErrorMarker } from '@nes/notebook';
import type { Cell, JsonObject, JsonValue, NotebookJson } from './nbformat.ts';
import { joinText } from './nbformat.ts';

function field(object: JsonValue | undefined, key: string): JsonValue | undefined {
  return typeof object === 'object' && object !== null && !Array.isArray(object)
    ? object[key]
    : undefined;
}

function cellTags(cell: Cell): string[] {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) ? tags.filter((tag): tag is string => typeof tag === 'string') : [];
}

/**
 * Whether a markdown cell is one of the two papermill error cells, read with the definitions
 * that write them (@nes/notebook's error markers).
 */
export function papermillMarker(cell: Cell): ErrorMarker | null {
  if (cell.cell_type !== 'markdown') return null;
  return readErrorMarker(joinText(cell.source), cellTags(cell));
}

/**
 * The index of the failing cell: papermill puts its anchor cell right in
 * front of it. Falls back to the first cell whose papermill metadata says
 * it raised, then to the first error output.
 */
export function failingCellIndex(notebook: NotebookJson): number | null {
  const cells = notebook.cells;
  for (const [i, cell] of cells.entries()) {
    if (papermillMarker(cell)?.kind === 'anchor') return i + 1 < cells.length ? i + 1 : null;
  }
  for (const [i, cell] of cells.entries()) {
    if (field(cell.metadata?.papermill, 'exception') === true) return i;
  }
  for (const [i, cell] of cells.entries()) {
    if (cell.cell_type === 'code' && cell.outputs.some((output) => output.output_type === 'error'))
      return i;
  }
  return null;
}

export type ParameterBadge = 'Parameters' | 'Injected parameters';

export function parameterBadge(cell: Cell): ParameterBadge | null {
  const tags = cellTags(cell);
  if (tags.includes('injected-parameters')) return 'Injected parameters';
  if (tags.includes('parameters')) return 'Parameters';
  return null;
}

/** Report mode (`papermill --report-mode`, nbconvert's hide-input tags) hides a cell's input. */
export function inputHidden(cell: Cell): boolean {
  const metadata: JsonObject = cell.metadata ?? {};
  if (field(metadata.jupyter, 'source_hidden') === true) return true;
  if (metadata.hide_input === true || field(metadata.papermill, 'hide_input') === true) return true;
  const tags = cellTags(cell);
  return (
    tags.includes('remove_input') ||
    tags.includes('hide-input') ||
    tags.includes('remove-input') ||
    tags.includes('hide_input')
  );
}

/** Collapsed outputs (JupyterLab's outputs_hidden, the classic `collapsed`, hide-output tags). */
export function outputsHidden(cell: Cell): boolean {
  const metadata: JsonObject = cell.metadata ?? {};
  if (field(metadata.jupyter, 'outputs_hidden') === true || metadata.collapsed === true)
    return true;
  const tags = cellTags(cell);
  return ['remove_output', 'remove-output', 'hide-output', 'hide_output'].some((tag) =>
    tags.includes(tag),
  );
}

export type PapermillStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface PapermillCellInfo {
  status: PapermillStatus | null;
  /** Seconds, from `duration` or from the start and end times. */
  duration: number | null;
  exception: boolean;
}

export function papermillCellInfo(cell: Cell): PapermillCellInfo | null {
  const meta = cell.metadata?.papermill;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return null;
  const status = meta.status;
  let duration =
    typeof meta.duration === 'number' && Number.isFinite(meta.duration) ? meta.duration : null;
  if (
    duration === null &&
    typeof meta.start_time === 'string' &&
    typeof meta.end_time === 'string'
  ) {
    const ms = Date.parse(meta.end_time) - Date.parse(meta.start_time);
    if (Number.isFinite(ms) && ms >= 0) duration = ms / 1000;
  }
  return {
    status:
      status === 'pending' || status === 'running' || status === 'completed' || status === 'failed'
        ? status
        : null,
    duration,
    exception: meta.exception === true,
  };
}

/** `0.4 s`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(seconds < 1 ? 2 : 1)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * The cell numbers NES shows everywhere (cell headers, banners, the durations panel, the API's
 * `error.cellNumber`, the CLI): a code cell's position, from 1, among the code cells of the
 * notebook as its author wrote it. papermill's injected parameters cell and its error cells are
 * not the author's, so they get no number (null), nor do markdown and raw cells.
 */
export function authorCellNumbers(
  cells: ReadonlyArray<{ cell_type: string; metadata?: unknown }>,
): Array<number | null> {
  let number = 0;
  return cells.map((cell) => {
    if (cell?.cell_type !== 'code') return null;
    const tags = (cell.metadata as { tags?: unknown } | undefined)?.tags;
    if (Array.isArray(tags) && tags.includes('injected-parameters')) return null;
    number += 1;
    return number;
  });
}
