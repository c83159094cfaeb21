/**
 * Writing the run's result where `NES_RESULT_FILE` points when nes-run exits (in a Kubernetes pod,
 * the container's termination message). What the result says and how it stays under the
 * kubelet's limit is the run contract's (@nes/run-contract `buildResult`, `formatResult`).
 */
import { writeFileSync } from 'node:fs';
import { formatResult, RESULT_FILE_ENV, type RunnerResult } from '@nes/run-contract';

/**
 * Writes the result to `path`. Never throws: a result that cannot be written must not change
 * the run's exit code (the executor then judges the run by its exit code alone).
 */
export function writeResultFile(path: string, result: RunnerResult): void {
  try {
    writeFileSync(path, formatResult(result));
  } catch (error) {
    process.stderr.write(
      `nes-run: warning: cannot write the result to ${RESULT_FILE_ENV}=${path}: ${(error as Error).message}\n`,
    );
  }
}
