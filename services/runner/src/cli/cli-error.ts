/**
 * How nes-run ends early with a one-line message. The exit codes themselves are the run
 * contract's (@nes/run-contract), shared with the executors and the nes CLI.
 */
import { EXIT_SOURCE, EXIT_USAGE } from '@nes/run-contract';

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
