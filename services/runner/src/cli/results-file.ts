/**
 * nes-run --results-file PATH: the run's results as JSON, for a container pipeline step that
 * passes them on (Argo output parameters, Kubeflow outputs). Written at the end whatever the
 * outcome: a run that failed before executing has no results, and says so by its status.
 */
import { writeFileSync } from 'node:fs';
import { NO_RESULTS, type RunResults, resultsDocument } from '../results.ts';

export function writeResultsFile(
  path: string,
  facts: { runId?: string | undefined; status: string; results: RunResults | null },
): void {
  const document = {
    ...(facts.runId !== undefined ? { runId: facts.runId } : {}),
    status: facts.status,
    ...resultsDocument(facts.results ?? NO_RESULTS),
  };
  try {
    writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
  } catch (error) {
    // Like the result file: a results file that cannot be written does not change the exit code.
    process.stderr.write(
      `nes-run: warning: cannot write --results-file ${path}: ${(error as Error).message}\n`,
    );
  }
}
