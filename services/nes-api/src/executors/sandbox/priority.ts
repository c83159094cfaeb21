/**
 * Runs yield the CPU to the service: their processes run at the niceness NES_RUN_NICE (never
 * below the service's own). A run still uses every idle core; only when the machine is busy does
 * the service's process (the API, its database thread, the scheduler) go first, so a submit or a
 * 429 is answered promptly while sandboxes start and notebooks compute. Children inherit it: the
 * Jupyter Server started niced starts its kernel niced.
 */
import { getPriority, setPriority } from 'node:os';

/** The niceness runs get: `nice`, or the service's own when that is higher already. */
function runNiceness(nice: number): number {
  return Math.max(nice, getPriority());
}

/** `nice -n N` in front of a command: the process starts niced, before it forks anything. */
export function nicedCommand(
  nice: number,
  command: { file: string; args: string[] },
): { file: string; args: string[] } {
  // `nice -n` adds to the caller's niceness.
  const increment = runNiceness(nice) - getPriority();
  if (nice <= 0 || increment <= 0) return command;
  return { file: 'nice', args: ['-n', String(increment), command.file, ...command.args] };
}

/** Lowers a started process's priority (best effort: a process already gone is no error). */
export function lowerPriority(pid: number, nice: number): void {
  if (nice <= 0) return;
  try {
    setPriority(pid, runNiceness(nice));
  } catch {
    // it exited already
  }
}
