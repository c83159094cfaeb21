/**
 * How a run's end reads for people: the failure class in words, the error's first line, and for
 * runs that were stopped (cancelled, timed out) their own wording instead of a failure's.
 */
import type { Run } from '@nes/client';
import { firstLine, humanizeSeconds } from './format.ts';

const FAILURE_CLASS_TEXT: Record<string, string> = {
  cell_error: 'Cell error',
  timeout: 'Timed out',
  kernel_died: 'Kernel died',
  oom: 'Out of memory',
  cancelled: 'Cancelled',
  source: 'Notebook not readable',
  infra: 'Service problem',
};

export const FAILURE_TEXT: Record<string, string> = {
  cell_error: 'A cell raised an error',
  timeout: 'The run took longer than its time limit',
  kernel_died: 'The kernel died',
  oom: 'The kernel ran out of memory',
  cancelled: 'The run was cancelled',
  source: 'The notebook could not be fetched or read',
  infra: 'The service could not run the notebook',
};

export interface FailureSummary {
  /** The class in words: `Cell error`, `Timed out`. */
  title: string;
  /** `ZeroDivisionError: division by zero` (the first line), durations made readable. */
  line: string;
  /** The whole message, for hover text. */
  full: string;
}

/** What a runs-list row says about a run that did not succeed; null for the others. */
export function failureSummary(
  run: Pick<Run, 'status' | 'error' | 'cancelRequested'>,
): FailureSummary | null {
  if (run.status !== 'failed' && run.status !== 'timed_out' && run.status !== 'cancelled')
    return null;
  const error = run.error;
  const cls = error?.class ?? (run.status === 'timed_out' ? 'timeout' : run.status);
  const title = FAILURE_CLASS_TEXT[cls] ?? cls;
  if (!error) return { title, line: '', full: title };
  if (cls === 'cancelled') {
    // "Cancelled: The run was cancelled" says nothing twice; where it stopped says something.
    const line =
      typeof error.cellNumber === 'number' ? `while cell ${error.cellNumber} was running` : '';
    return { title, line, full: [title, line].filter(Boolean).join(', ') };
  }
  const message = [error.ename, humanizeSeconds(error.evalue ?? '')].filter(Boolean).join(': ');
  const where = typeof error.cellNumber === 'number' ? ` (cell ${error.cellNumber})` : '';
  return {
    title,
    line: `${firstLine(message)}${where}`,
    full: `${title}${where}\n${message}`,
  };
}

/** A run that ended because it was stopped rather than because something broke. */
export function wasStopped(run: Pick<Run, 'status' | 'error'>): 'cancelled' | 'timed_out' | null {
  if (run.status === 'cancelled' || run.error?.class === 'cancelled') return 'cancelled';
  if (run.status === 'timed_out' || run.error?.class === 'timeout') return 'timed_out';
  return null;
}
