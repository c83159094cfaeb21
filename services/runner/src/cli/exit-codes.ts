/**
 * nes-run's exit codes, one per failure class. Scripts and the executors rely on these numbers:
 * change them only together with README.md and docs/runner-cli.md.
 */
import type { FailureClass, RunSummary } from '../execution-types.ts';

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

/** The exit code for a finished run. */
export function exitCodeForSummary(summary: Pick<RunSummary, 'status' | 'error'>): number {
  if (summary.error) return EXIT_CODE_BY_CLASS[summary.error.class];
  switch (summary.status) {
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

/** An error that ends nes-run with a given exit code and a one-line message (no stack). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT_USAGE, message);
}

export function sourceError(message: string): CliError {
  return new CliError(EXIT_SOURCE, message);
}
