/**
 * A run's results as the API keeps and serves them. The runner collects them from the output
 * notebook (services/runner/src/results.ts); the API stores what a local worker reports at the
 * finish, and for runs whose executor does not report them (a Kubernetes Job) reads them once
 * from the run's manifest in the output store. Either way they come from where a notebook's code
 * runs, so they are checked again here (shape and size) before they are stored or served.
 */
import type { ResultsDocument, RunResults } from '@nes/runner';
import { isStoreError, type ObjectStore, RunArtifacts } from '@nes/stores';
import type { RunStore } from './run-store.ts';

/** Stored results of one run at most this many bytes of JSON (the runner keeps 1 MiB of values). */
export const MAX_STORED_RESULTS_BYTES = 2 * 1024 * 1024;

/** `value` as results when it has their shape and size, else null. */
export function checkedResults(value: unknown): RunResults | null {
  if (typeof value !== 'object' || value === null) return null;
  const candidate = value as Partial<RunResults>;
  if (!Array.isArray(candidate.results) || !Array.isArray(candidate.dropped ?? [])) return null;
  const wellFormed = candidate.results.every(
    (r) =>
      typeof r === 'object' &&
      r !== null &&
      typeof r.name === 'string' &&
      ['value', 'display', 'encoded'].includes(r.kind) &&
      Number.isInteger(r.cellIndex) &&
      Number.isInteger(r.outputIndex),
  );
  if (!wellFormed) return null;
  const exit = candidate.exit;
  const results: RunResults = {
    version: 1,
    results: candidate.results,
    exit:
      exit && typeof exit === 'object' && Number.isInteger(exit.cellIndex)
        ? { value: exit.value ?? null, cellIndex: exit.cellIndex }
        : null,
    dropped: (candidate.dropped ?? []).filter((name): name is string => typeof name === 'string'),
  };
  if (Buffer.byteLength(JSON.stringify(results)) > MAX_STORED_RESULTS_BYTES) return null;
  return results;
}

/** The results document of a manifest written by the runner (`results` there is a document). */
function fromManifest(manifest: unknown): RunResults | null {
  const document = (manifest as { results?: Partial<ResultsDocument> } | null)?.results;
  if (!document) return null;
  return checkedResults({
    version: 1,
    results: document.results,
    exit: document.exit,
    dropped: document.dropped,
  });
}

/**
 * A finished run's results: the stored ones, else (once) those of its manifest, then stored.
 * Null when the run recorded none it could keep.
 */
export async function loadRunResults(
  store: RunStore,
  artifacts: ObjectStore,
  runId: string,
  finished: boolean,
): Promise<RunResults | null> {
  const stored = await store.getResults(runId);
  if (stored || !finished) return stored ?? null;
  const key = new RunArtifacts(artifacts, runId).keys.manifest;
  let manifest: unknown;
  try {
    const bytes = await artifacts.get(key);
    if (bytes.byteLength > MAX_STORED_RESULTS_BYTES * 2) return null;
    manifest = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    if (isStoreError(error, 'not_found') || error instanceof SyntaxError) return null;
    throw error;
  }
  const results = fromManifest(manifest);
  if (results) await store.saveResults(runId, results);
  return results;
}
