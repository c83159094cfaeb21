/**
 * What papermill writes into a notebook it runs, so that a notebook run by NES reads exactly like
 * one run by papermill (engines.py NotebookExecutionManager, execute.py):
 * - `metadata.papermill` on the notebook: start_time, end_time, duration, exception, plus the
 *   run's record (input_path, output_path, parameters, environment_variables, version, ...);
 * - `metadata.papermill` on every cell: status pending -> running -> completed | failed,
 *   start_time, end_time, duration, exception;
 * - timestamps as Python's naive UTC `datetime.isoformat()`, durations in seconds;
 * - on failure, two markdown "banner" cells tagged `papermill-error-cell-tag`: one on top linking
 *   to `#papermill-error-cell`, one anchor just before the failed cell.
 * What papermill does before its engine runs (parameters, report mode, paths, removing an earlier
 * run's banners) is prepare-run.ts.
 */
import {
  addErrorMarkers,
  type Cell,
  type Notebook,
  type PapermillCellMetadata,
  type PapermillNotebookMetadata,
} from '@nes/notebook';

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

/**
 * papermill's notebook_start, on a copy of a notebook prepareRun made: the run's start recorded
 * beside the record already in `metadata.papermill` (input_path, parameters, ...), execution
 * counts and outputs cleared, every cell pending. Parameterizing, report mode and old error
 * banners are prepareRun's, done once before.
 */
export function startNotebook(input: Notebook, startMicros: number): Notebook {
  const { papermill, ...metadata } = input.metadata;
  const nb = structuredClone({ ...input, metadata });
  // The record is copied, not cloned: its parameters hold values that write themselves exactly
  // (1.0, integers past 2^53, inf), which a structured clone would turn into plain objects.
  nb.metadata.papermill = { ...papermill };
  const record = notebookRecord(nb);
  record.start_time = papermillTimestamp(startMicros);
  record.end_time = null;
  record.duration = null;
  record.exception = null;
  for (const cell of nb.cells) {
    if (cell.cell_type === 'code') {
      cell.execution_count = null;
      cell.outputs = [];
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

/**
 * papermill's notebook_complete: the end time and duration, and (its "cleanup in case callbacks
 * were never called") every cell still pending before the first failed one marked completed.
 */
export function markNotebookComplete(
  nb: Notebook,
  startMicros: number,
  endMicros: number,
  /** The cell that ended the run early (nes.exit): the cells after it never ran, stay pending. */
  lastRunIndex: number | null = null,
): void {
  const record = notebookRecord(nb);
  record.end_time = papermillTimestamp(endMicros);
  record.duration = durationSeconds(startMicros, endMicros);
  for (const [index, cell] of nb.cells.entries()) {
    if (lastRunIndex !== null && index > lastRunIndex) break;
    const status = cell.metadata.papermill?.status;
    if (status === 'failed') break;
    if (status === 'pending') cellRecord(cell).status = 'completed';
  }
}

/**
 * papermill's two banner cells (@nes/notebook's addErrorMarkers) for a failure in
 * `nb.cells[cellIndex]`: the notebook with them, and the failed cell's new index.
 */
export function withErrorBanner(
  nb: Notebook,
  cellIndex: number,
  executionCount: number | null,
): { notebook: Notebook; cellIndex: number } {
  return { notebook: addErrorMarkers(nb, { cellIndex, executionCount }), cellIndex: cellIndex + 2 };
}
