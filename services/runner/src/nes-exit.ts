/**
 * `nes.exit(value)` ends a run early and successfully (Databricks' `dbutils.notebook.exit`).
 * In the kernel it writes the exit output (`application/vnd.nes.exit+json`) and raises `NesExit`
 * with no traceback shown; the runner sees the cell's error reply and, when that cell wrote the
 * exit output, treats it as the run's successful end:
 *   - the exiting cell is `completed` (not failed), with its outputs up to the call;
 *   - later cells do not run and stay as prepared: papermill status `pending`, no outputs, no
 *     execution count (they do not count in `cellsDone`);
 *   - the notebook's `metadata.papermill.exception` is false, no error banner is added, and
 *     `metadata.nes.exit` records `{cellIndex}`; the run's status is `succeeded`.
 * A `NesExit` without the exit output (a name clash in user code) is an ordinary cell error.
 */
import type { CodeCell, Notebook } from '@nes/notebook';
import { EXIT_MIME } from './results.ts';

const NES_EXIT_ENAME = 'NesExit';

/** Whether an error reply `ename` in `cell` is nes.exit(); if so, drops any NesExit error output. */
export function endedByNesExit(cell: CodeCell, ename: string): boolean {
  if (ename !== NES_EXIT_ENAME) return false;
  const wroteExit = cell.outputs.some(
    (output) =>
      (output.output_type === 'display_data' || output.output_type === 'execute_result') &&
      EXIT_MIME in output.data,
  );
  if (!wroteExit) return false;
  // The module hides the traceback; a kernel that showed one anyway must not leave it behind.
  cell.outputs = cell.outputs.filter(
    (output) => !(output.output_type === 'error' && output.ename === NES_EXIT_ENAME),
  );
  return true;
}

/** Records where the run exited, beside papermill's metadata. */
export function recordExit(nb: Notebook, cellIndex: number): void {
  const nes = (nb.metadata.nes ?? {}) as Record<string, unknown>;
  nb.metadata.nes = { ...nes, exit: { cellIndex } } as Notebook['metadata']['nes'];
}
