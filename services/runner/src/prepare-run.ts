/**
 * A run's notebook made ready to execute: the one preparation for nes-run and the service's
 * runner worker, so both write the same notebook from the same input and parameters. The steps
 * are papermill's `execute_notebook` up to its engine, in its order, each done once:
 *
 *   fetch (the caller: a path, a store, GitHub at a pinned commit)
 *   -> parameterize            `parameterize_notebook`: the injected cell after "parameters"
 *   -> papermill metadata      `prepare_notebook_metadata`: report mode, input and output paths,
 *                              then `remove_error_markers` of an earlier run
 *   -> NES's record            `metadata.nes`: where the notebook came from, the run id
 *   -> execute and save        the engine (execute.ts): notebook_start, the cells, autosaves,
 *                              notebook_complete and the final save
 *
 * The first three are @nes/notebook's `prepareAsPapermill` (pure, shared with anything that
 * previews a run); this module adds what a run records beyond papermill.
 */
import { inspectParameters, type Notebook, prepareAsPapermill } from '@nes/notebook';

/** Where the notebook came from, as `metadata.nes.source` records it. */
interface RunSource {
  /** The location as given; metadata.papermill.input_path. */
  uri: string;
  ref: string | null;
  commitSha: string | null;
  /** The location at the resolved commit (GitHub), the one a rerun reads. */
  pinnedUri: string | null;
}

export interface PrepareRunOptions {
  parameters: Record<string, unknown>;
  /** The kernel the run starts (else the notebook's); chooses the parameter language. */
  kernelName?: string | undefined;
  /** The parameter language when the kernel does not say it (papermill's --language). */
  language?: string | undefined;
  /** papermill's report mode: code inputs hidden. */
  reportMode?: boolean;
  /** metadata.papermill.output_path: where the output notebook goes. */
  outputPath: string;
  runId?: string | undefined;
  /** papermill's warnings (unknown parameters, a parameters cell missing, ...). */
  warn(message: string): void;
}

/**
 * The notebook the engine runs. Throws what parameterizing throws (an unsupported language or
 * parameter value, an invalid parameter name): each caller says it in its own terms.
 */
export function prepareRun(
  notebook: Notebook,
  source: RunSource,
  options: PrepareRunOptions,
): Notebook {
  warnUnknownParameters(notebook, options);
  const { notebook: prepared, warnings } = prepareAsPapermill(notebook, options.parameters, {
    ...(options.kernelName !== undefined ? { kernelName: options.kernelName } : {}),
    ...(options.language !== undefined ? { language: options.language } : {}),
    reportMode: options.reportMode ?? false,
    inputPath: source.uri,
    outputPath: options.outputPath,
  });
  for (const warning of warnings) options.warn(warning);
  return withNesRecord(prepared, source, options.runId);
}

/** papermill's "Passed unknown parameter" warnings, where the language can be inspected. */
function warnUnknownParameters(notebook: Notebook, options: PrepareRunOptions): void {
  const names = Object.keys(options.parameters);
  if (names.length === 0) return;
  const inspected = inspectParameters(notebook, {
    ...(options.kernelName !== undefined ? { kernelName: options.kernelName } : {}),
    ...(options.language !== undefined ? { language: options.language } : {}),
  });
  if (inspected.parameters.length === 0 && inspected.warnings.length > 0) return;
  const known = new Set(inspected.parameters.map((p) => p.name));
  for (const name of names) {
    if (!known.has(name)) options.warn(`Passed unknown parameter: ${name}`);
  }
}

/** NES's own record beside papermill's, under its own key: papermill readers ignore it. */
function withNesRecord(notebook: Notebook, source: RunSource, runId: string | undefined): Notebook {
  const nes = {
    source: {
      uri: source.uri,
      ref: source.ref,
      commitSha: source.commitSha,
      pinnedUri: source.pinnedUri,
    },
    ...(runId === undefined ? {} : { runId }),
  };
  return { ...notebook, metadata: { ...notebook.metadata, nes } };
}
