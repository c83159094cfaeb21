/**
 * What the end of a runner process means when it is all there is to go on: a worker that died
 * without its IPC result, or a runner container that terminated (with, there, its result message
 * when it left one). The local and the Kubernetes executors both judge exits here, so the same
 * exit reads as the same failure whichever executor ran it.
 */
import { EXIT_CANCELLED, exitMeaning } from './exit-codes.ts';
import { isFailureClass, outcomeForClass, type RunFailure, type RunOutcome } from './outcome.ts';
import type { RunnerResult } from './runner-result.ts';

export interface RunnerExit {
  /** The process's exit code; null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it (a local process); a container reports 128 + n instead. */
  signal?: string | null;
  /** It was killed for memory (the container's OOMKilled, the memory cgroup's OOM counter). */
  oomKilled?: boolean;
  /** The runner's result message, when it left one (a container's termination message). */
  result?: Partial<RunnerResult> | null;
  /** The last line the runner printed (its stderr, its log), for the message. */
  lastWords?: string | null;
  /**
   * The runner should have reported its result before exiting and did not (a worker's IPC
   * result never came): even an exit 0 is then a failure.
   */
  resultMissing?: boolean;
}

export interface ExitVerdict {
  status: RunOutcome;
  error: RunFailure | null;
  /** Where the runner said it saved the notebook (its result message), if it said so. */
  outputUri: string | null;
}

const SIGKILL_EXIT = 137;
const SIGTERM_EXIT = 143;

function lastLine(text: string | null | undefined, limit = 500): string | null {
  const line = text
    ?.trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .at(-1);
  if (!line) return null;
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}

export function failureFromExit(exit: RunnerExit, cancelRequested: boolean): ExitVerdict {
  const { exitCode, result = null } = exit;
  const signal = exit.signal ?? null;
  const outputUri = result?.outputUri ?? null;
  const cell = { cellIndex: result?.cellIndex ?? null, cellNumber: result?.cellNumber ?? null };
  const how = signal !== null ? `was killed by ${signal}` : `exited with code ${exitCode}`;
  const words = lastLine(exit.lastWords);
  const fail = (error: RunFailure): ExitVerdict => ({
    status: outcomeForClass(error.class),
    error,
    outputUri,
  });
  const stopped =
    signal !== null ||
    exitCode === EXIT_CANCELLED ||
    exitCode === SIGKILL_EXIT ||
    exitCode === SIGTERM_EXIT;
  // A cancel we asked for stays a cancel, however the runner was stopped.
  if (cancelRequested && stopped) {
    return fail({
      class: 'cancelled',
      ename: 'Cancelled',
      evalue: 'The run was cancelled',
      ...cell,
    });
  }
  if (exit.oomKilled) {
    return fail({
      class: 'oom',
      ename: 'OOMKilled',
      evalue: `The runner ${how}: killed for exceeding its memory limit`,
      ...cell,
    });
  }
  if (exitCode === 0) {
    if (!exit.resultMissing) return { status: 'succeeded', error: null, outputUri };
    return fail({
      class: 'infra',
      ename: 'RunnerExited',
      evalue: `The runner exited with code 0 before reporting a result${words ? `: ${words}` : ''}`,
      cellIndex: null,
    });
  }
  if (signal !== null) {
    return fail({
      class: 'infra',
      ename: 'RunnerKilled',
      evalue: `The runner ${how} before reporting a result`,
      cellIndex: null,
    });
  }
  if (exitCode === EXIT_CANCELLED || exitCode === SIGTERM_EXIT) {
    // SIGTERM that no cancel asked for: the pod was deleted (kubectl delete pod, a node shut
    // down without a drain) or the process stopped from outside. The runner saved what it had,
    // but the run did not end on its own and nobody cancelled it: infrastructure, not a cancel.
    return fail({
      class: 'infra',
      ename: 'RunnerTerminated',
      evalue:
        `The runner was stopped by SIGTERM without a cancel (exit code ${exitCode}): its pod ` +
        'was deleted, its node shut down or its process stopped; the notebook was saved as far as it ran',
      ...cell,
    });
  }
  const known = exitCode === null ? undefined : exitMeaning(exitCode);
  if (known) {
    const failureClass =
      isFailureClass(result?.class) && result.class !== 'cancelled' ? result.class : known.class;
    return fail({
      class: failureClass,
      ename: result?.ename ?? known.ename,
      evalue: result?.evalue ?? (result ? null : words) ?? `${known.what} (exit code ${exitCode})`,
      ...cell,
    });
  }
  const killed = exitCode === SIGKILL_EXIT ? ' (SIGKILL: often the node ran out of memory)' : '';
  return fail({
    class: 'infra',
    ename: 'RunnerExited',
    evalue: `The runner exited with exit code ${exitCode}${killed}${words ? `: ${words}` : ''}`,
    cellIndex: null,
  });
}
