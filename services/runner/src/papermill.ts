/**
 * What papermill writes into a notebook it runs, so that a notebook run by NES reads exactly like
 * one run by papermill (engines.py NotebookExecutionManager, execute.py):
 * - `metadata.papermill` on the notebook: start_time, end_time, duration, exception, plus the
 *   run's record (input_path, output_path, parameters, environment_variables, version, ...);
 * - `metadata.papermill` on every cell: status pending -> running -> completed | failed,
 *   start_time, end_time, duration, exception;
 * - timestamps as Python's naive UTC `datetime.isoformat()`, durations in seconds;
 * - on failure, two markdown "banner" cells tagged `papermill-error-cell-tag`: one on top linking
 *   to `#papermill-error-cell`, one anchor just before the failed cell;
 * - report mode hides code inputs (`metadata.jupyter.source_hidden`).
 */
import { randomBytes } from 'node:crypto';
import type {
  Cell,
  CellMetadata,
  JsonObject,
  MarkdownCell,
  Notebook,
  PapermillCellMetadata,
  PapermillNotebookMetadata,
} from '@nes/notebook';

export const ERROR_MARKER_TAG = 'papermill-error-cell-tag';
const ERROR_STYLE =
  'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"';

/** The top banner's text for a failure at execution count `executionCount`. */
export function errorBannerText(executionCount: number | null): string {
  const count = executionCount === null ? 'None' : String(executionCount);
  return `<span ${ERROR_STYLE}>An Exception was encountered at '<a href="#papermill-error-cell">In [${count}]</a>'.</span>`;
}

export const ERROR_ANCHOR_TEXT = `<span id="papermill-error-cell" ${ERROR_STYLE}>Execution using papermill encountered an exception here and stopped:</span>`;

/** Wall-clock time in whole microseconds since the epoch (papermill records microseconds). */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Python's `datetime.utcnow().isoformat()`: no zone, microseconds unless they are zero. */
export function papermillTimestamp(micros: number): string {
  const millis = Math.floor(micros / 1000);
  const base = new Date(millis).toISOString().slice(0, 19);
  const fraction = micros - Math.floor(micros / 1_000_000) * 1_000_000;
  return fraction === 0 ? base : `${base}.${String(fraction).padStart(6, '0')}`;
}

/** `timedelta.total_seconds()` between two microsecond instants. */
export function durationSeconds(startMicros: number, endMicros: number): number {
  return (endMicros - startMicros) / 1_000_000;
}

function pendingCellRecord(): PapermillCellMetadata {
  return { exception: null, start_time: null, end_time: null, duration: null, status: 'pending' };
}

function cellRecord(cell: Cell): PapermillCellMetadata {
  cell.metadata.papermill ??= pendingCellRecord();
  return cell.metadata.papermill;
}

function notebookRecord(nb: Notebook): PapermillNotebookMetadata {
  nb.metadata.papermill ??= {};
  return nb.metadata.papermill;
}

export interface PrepareOptions {
  reportMode?: boolean;
  /** Recorded as-is under `metadata.papermill` (input_path, parameters, version, ...). */
  record?: PapermillNotebookMetadata;
  startMicros: number;
}

/**
 * A copy of `input` ready to run: old error banners removed, inputs hidden in report mode, the
 * run recorded, execution counts and outputs cleared, every cell pending (papermill's
 * notebook_start).
 */
export function prepareNotebook(input: Notebook, options: PrepareOptions): Notebook {
  const nb = structuredClone(input);
  nb.cells = nb.cells.filter((cell) => !cell.metadata.tags?.includes(ERROR_MARKER_TAG));
  const record = notebookRecord(nb);
  Object.assign(record, options.record ?? {});
  record.start_time = papermillTimestamp(options.startMicros);
  record.end_time = null;
  record.duration = null;
  record.exception = null;
  for (const cell of nb.cells) {
    if (cell.cell_type === 'code') {
      cell.execution_count = null;
      cell.outputs = [];
      if (options.reportMode) {
        const jupyter = (cell.metadata.jupyter ?? {}) as JsonObject;
        cell.metadata.jupyter = { ...jupyter, source_hidden: true };
      }
    }
    cell.metadata.papermill = pendingCellRecord();
  }
  return nb;
}

export function markCellRunning(cell: Cell, micros: number): void {
  const record = cellRecord(cell);
  record.start_time = papermillTimestamp(micros);
  record.status = 'running';
  record.exception = false;
}

export function markCellFailed(nb: Notebook, cell: Cell): void {
  const record = cellRecord(cell);
  record.exception = true;
  record.status = 'failed';
  notebookRecord(nb).exception = true;
}

export function markCellComplete(cell: Cell, startMicros: number, endMicros: number): void {
  const record = cellRecord(cell);
  record.end_time = papermillTimestamp(endMicros);
  record.duration = durationSeconds(startMicros, endMicros);
  if (record.status !== 'failed') record.status = 'completed';
}

export function markNotebookComplete(nb: Notebook, startMicros: number, endMicros: number): void {
  const record = notebookRecord(nb);
  record.end_time = papermillTimestamp(endMicros);
  record.duration = durationSeconds(startMicros, endMicros);
}

function bannerCell(nb: Notebook, source: string): MarkdownCell {
  const metadata: CellMetadata = { tags: [ERROR_MARKER_TAG] };
  const cell: MarkdownCell = { cell_type: 'markdown', metadata, source };
  // nbformat gives new cells an id from 4.5 on; earlier versions forbid the field.
  if (nb.nbformat_minor >= 5) cell.id = randomBytes(4).toString('hex');
  return cell;
}

/**
 * Inserts papermill's two banner cells for a failure in `nb.cells[cellIndex]` and returns the
 * failed cell's new index.
 */
export function insertErrorBanner(
  nb: Notebook,
  cellIndex: number,
  executionCount: number | null,
): number {
  nb.cells.splice(cellIndex, 0, bannerCell(nb, ERROR_ANCHOR_TEXT));
  nb.cells.unshift(bannerCell(nb, errorBannerText(executionCount)));
  return cellIndex + 2;
}
