/**
 * How a run ends. The runner knows four outcomes; the API adds the three states a run passes
 * through before it has one. Both are named here, distinctly, so no part can mistake one for the
 * other.
 */

/** Why a run did not succeed. The same seven words in the API, the CLIs and the operators. */
export type FailureClass =
  | 'cell_error'
  | 'timeout'
  | 'kernel_died'
  | 'oom'
  | 'cancelled'
  | 'source'
  | 'infra';

export const FAILURE_CLASSES: readonly FailureClass[] = [
  'cell_error',
  'timeout',
  'kernel_died',
  'oom',
  'cancelled',
  'source',
  'infra',
];

export function isFailureClass(value: unknown): value is FailureClass {
  return typeof value === 'string' && (FAILURE_CLASSES as readonly string[]).includes(value);
}

/** How one execution ended, as the runner reports it (nes-run, the worker, the result message). */
export type RunOutcome = 'succeeded' | 'failed' | 'cancelled' | 'timed_out';

/** A run's status as the API stores and serves it: waiting, under way, or its outcome. */
export type RunStatus = 'queued' | 'starting' | 'running' | RunOutcome;

/** Every status, in the order a run passes through them. */
export const RUN_STATUSES: readonly RunStatus[] = [
  'queued',
  'starting',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
];

export const TERMINAL_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
];

export function isTerminal(status: RunStatus): status is RunOutcome {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/**
 * Why a run failed: a plain object, the same in the runner's result, the API's run and the HTTP
 * body (the runner's own exception that carries one while it unwinds is not this type).
 */
export interface RunFailure {
  class: FailureClass;
  /** Exception name as the kernel reported it (`ZeroDivisionError`), or a NES-side name. */
  ename: string;
  evalue: string;
  /** Index in the output notebook's cells of the cell that failed (papermill's error cells included). */
  cellIndex: number | null;
  /**
   * The failed cell as its author counts it: its position (from 1) among the code cells of the
   * notebook as written, not counting the injected parameters cell or papermill's error cells.
   * What the viewer, the CLI and the log call "cell N".
   */
  cellNumber?: number | null;
}

/** The outcome a failure of this class ends the run with. */
export function outcomeForClass(failureClass: FailureClass): Exclude<RunOutcome, 'succeeded'> {
  if (failureClass === 'timeout') return 'timed_out';
  if (failureClass === 'cancelled') return 'cancelled';
  return 'failed';
}
