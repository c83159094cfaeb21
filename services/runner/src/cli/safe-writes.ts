/**
 * What nes-run writes when a run cannot end the usual way, so that nothing is lost: the prepared
 * notebook when the kernel never starts (as papermill leaves it), and a local copy when the final
 * save fails.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Notebook, serializeNotebook } from '@nes/notebook';
import type { NotebookSink } from '../execution-types.ts';
import { messageOf } from './places.ts';
import type { Reporter } from './reporter.ts';

/**
 * The notebook as papermill leaves it when the kernel never starts: its notebook_start (cells
 * pending, outputs cleared) followed at once by its notebook_complete. Best effort: the refusal
 * that follows is what the user must see.
 */
export async function writeUnstarted(prepared: Notebook, sink: NotebookSink, reporter: Reporter) {
  const { markNotebookComplete, nowMicros, startNotebook } = await import('../papermill.ts');
  const start = nowMicros();
  const nb = startNotebook(prepared, start);
  markNotebookComplete(nb, start, nowMicros());
  try {
    await sink.write(nb, 'final');
  } catch (error) {
    reporter.log('WARNING', `nes-run: could not write the prepared notebook: ${messageOf(error)}`);
  }
}

/** The final save failed: the notebook is not lost, it goes to a local temporary file. */
export function rescue(
  notebook: Notebook,
  runId: string | undefined,
  reporter: Reporter,
  where: string,
): string | null {
  const path = join(tmpdir(), `nes-run-${runId ?? `${process.pid}-${Date.now()}`}.ipynb`);
  try {
    writeFileSync(path, serializeNotebook(notebook), { mode: 0o600 });
  } catch (error) {
    reporter.log(
      'ERROR',
      `nes-run: the notebook could not be kept locally either: ${messageOf(error)}`,
    );
    return null;
  }
  reporter.log(
    'ERROR',
    `nes-run: the notebook could not be saved to ${where}; a copy is at ${path}`,
  );
  return path;
}
