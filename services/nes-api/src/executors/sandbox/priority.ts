/**
 * Runs yield the CPU to the service: their processes are started with a higher niceness
 * (NES_RUN_NICE). A run still uses every idle core; only when the machine is busy does the
 * service's process (the API, its database thread, the scheduler) go first, so a submit or a
 * 429 is answered promptly while sandboxes start and notebooks compute. Children inherit it: the
 * Jupyter Server started niced starts its kernel niced.
 */
import { setPriority } from 'node:os';

/** `nice -n N` in front of a command: the process starts niced, before it forks anything. */
export function nicedCommand(
  nice: number,
  command: { file: string; args: string[] },
): { file: string; args: string[] } {
  if (nice <= 0) return command;
  return { file: 'nice', args: ['-n', String(nice), command.file, ...command.args] };
}

/** Lowers a started process's priority (best effort: a process already gone is no error). */
export function lowerPriority(pid: number, nice: number): void {
  try {
    setPriority(pid, nice);
  } catch {
    // it exited already
  }
}
