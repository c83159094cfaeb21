/**
 * Exit codes: the run outcomes use nes-run's numbers (@nes/run-contract), so a script or a
 * workflow step reads `nes submit --wait` exactly as it reads `nes-run`. Failures to get an
 * answer from the API add two meanings to existing numbers:
 *   2  usage, or a request the API refused as it stands (4xx): retrying will not help
 *   3  the API refused the notebook source (missing repo, ref or path)
 *   7  the API could not be reached or failed (connection, 429, 5xx): retrying may help
 */
import { NesApiError, NesConnectionError, type Run } from '@nes/client';
import {
  CliError,
  EXIT_CANCELLED,
  EXIT_INFRA,
  EXIT_SOURCE,
  EXIT_SUCCEEDED,
  EXIT_USAGE,
  exitCodeForOutcome,
  isTerminal,
  usageError,
} from '@nes/run-contract';

export { CliError, EXIT_CANCELLED, EXIT_INFRA, EXIT_SUCCEEDED, EXIT_USAGE, usageError };

/** The exit code for a finished run, by failure class (0 when it succeeded). */
export function exitCodeForRun(run: Pick<Run, 'status' | 'error'>): number {
  const { status, error } = run;
  return isTerminal(status) ? exitCodeForOutcome({ status, error }) : EXIT_INFRA;
}

interface ErrorContext {
  /** What the command was doing, for 403 hints ("submit", "read", "admin"). */
  scope: 'read' | 'submit' | 'admin';
  tokenGiven: boolean;
}

/** A one-line message and an exit code for anything a command throws. */
export function describeError(err: unknown, context: ErrorContext): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof NesConnectionError) {
    return new CliError(
      EXIT_INFRA,
      `${err.message}. Is the service running (nes serve)? Set NES_URL or --url to its address.`,
    );
  }
  if (err instanceof NesApiError) {
    if (err.status === 401) {
      return new CliError(
        EXIT_USAGE,
        context.tokenGiven
          ? `the API rejected the token (401 ${err.code}): it is wrong, revoked or expired; check NES_TOKEN or --token (nes serve prints the admin token, nes token create makes others)`
          : 'the API needs a token (401): set NES_TOKEN or --token (nes serve prints the admin token)',
      );
    }
    if (err.status === 403) {
      return new CliError(
        EXIT_USAGE,
        `the token is not allowed to do this (403 ${err.code}: ${err.message}); this command needs a token with the "${context.scope}" scope`,
      );
    }
    const where = `${err.method} ${err.path}`;
    const detailText = err.details === undefined ? '' : ` ${JSON.stringify(err.details)}`;
    const text = `${err.message} (${err.status} ${err.code} from ${where})${detailText}`;
    if (err.status === 429 || err.status >= 500) return new CliError(EXIT_INFRA, text);
    // The API marks every notebook-source refusal (missing repo, ref, path; not a notebook).
    const details = err.details as { class?: unknown } | undefined;
    if (details?.class === 'source') return new CliError(EXIT_SOURCE, text);
    return new CliError(EXIT_USAGE, text);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(EXIT_INFRA, `unexpected error: ${message}`);
}
