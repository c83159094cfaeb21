/**
 * How nes-run ends early with a one-line message: the run contract's `CliError`, shared with the
 * nes CLI, carrying one of its exit codes.
 */
export { CliError, usageError } from '@nes/run-contract';
