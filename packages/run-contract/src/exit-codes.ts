/**
 * nes-run's exit codes, one per failure class, and what each means to whoever reads it back (the
 * local executor from a worker that died, the Kubernetes executor from a container, a script).
 * This is the only table of them: change a number only together with README.md and
 * docs/runner-cli.md.
 */
import type { FailureClass, RunFailure, RunOutcome } from './outcome.ts';

export const EXIT_SUCCEEDED = 0;
export const EXIT_CELL_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_SOURCE = 3;
export const EXIT_TIMEOUT = 4;
export const EXIT_KERNEL_DIED = 5;
export const EXIT_OOM = 6;
export const EXIT_INFRA = 7;
export const EXIT_CANCELLED = 130;

export const EXIT_CODE_BY_CLASS: Readonly<Record<FailureClass, number>> = {
  cell_error: EXIT_CELL_ERROR,
  source: EXIT_SOURCE,
  timeout: EXIT_TIMEOUT,
  kernel_died: EXIT_KERNEL_DIED,
  oom: EXIT_OOM,
  infra: EXIT_INFRA,
  cancelled: EXIT_CANCELLED,
};

export interface ExitMeaning {
  class: FailureClass;
  /** The name a failure gets when nothing more precise is known. */
  ename: string;
  /** What happened, for a message: "the kernel died". */
  what: string;
}

/** Every non-zero code nes-run exits with. A usage error is the runner's fault to the API: infra. */
const MEANINGS: ReadonlyMap<number, ExitMeaning> = new Map([
  [EXIT_CELL_ERROR, { class: 'cell_error', ename: 'CellError', what: 'a cell raised an error' }],
  [
    EXIT_USAGE,
    { class: 'infra', ename: 'UsageError', what: 'the runner rejected its command line' },
  ],
  [EXIT_SOURCE, { class: 'source', ename: 'SourceError', what: 'the notebook could not be read' }],
  [EXIT_TIMEOUT, { class: 'timeout', ename: 'Timeout', what: 'the run timed out' }],
  [EXIT_KERNEL_DIED, { class: 'kernel_died', ename: 'KernelDied', what: 'the kernel died' }],
  [EXIT_OOM, { class: 'oom', ename: 'OutOfMemory', what: 'the kernel ran out of memory' }],
  [EXIT_INFRA, { class: 'infra', ename: 'InfraError', what: 'the runner failed' }],
  [EXIT_CANCELLED, { class: 'cancelled', ename: 'Cancelled', what: 'the run was cancelled' }],
] as const);

/** What a non-zero exit code of nes-run means; undefined for a code it never exits with. */
export function exitMeaning(exitCode: number): ExitMeaning | undefined {
  return MEANINGS.get(exitCode);
}

/** The exit code for a finished run: its failure's class, else its outcome. */
export function exitCodeForOutcome(outcome: {
  status: RunOutcome;
  error: Pick<RunFailure, 'class'> | null;
}): number {
  if (outcome.error) return EXIT_CODE_BY_CLASS[outcome.error.class];
  switch (outcome.status) {
    case 'succeeded':
      return EXIT_SUCCEEDED;
    case 'cancelled':
      return EXIT_CANCELLED;
    case 'timed_out':
      return EXIT_TIMEOUT;
    case 'failed':
      return EXIT_INFRA;
  }
}

/** An error that ends a command (nes-run, nes) with its exit code and a one-line message. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A command line that cannot be run as given (exit 2). */
export function usageError(message: string): CliError {
  return new CliError(EXIT_USAGE, message);
}

/** The outcome nes-run's exit code stands for when nothing else is known. */
export function outcomeForExitCode(exitCode: number): RunOutcome {
  if (exitCode === EXIT_SUCCEEDED) return 'succeeded';
  if (exitCode === EXIT_TIMEOUT) return 'timed_out';
  if (exitCode === EXIT_CANCELLED) return 'cancelled';
  return 'failed';
}
