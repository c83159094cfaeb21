/**
 * What papermill's execute_notebook does to a notebook before it runs it, in its order:
 * 1. `load_notebook_node`: upgrade to nbformat 4.5 (cell ids), give the notebook a
 *    `metadata.papermill` record when it has none (default_parameters, parameters,
 *    environment_variables, version), and every cell `tags: []` and `papermill: {}` when it has
 *    none (code reading `cell.metadata.tags` relies on it);
 * 2. `parameterize_notebook`, only when there are parameters;
 * 3. `prepare_notebook_metadata`: report mode hides code inputs; input and output paths recorded;
 * 4. `remove_error_markers` of an earlier papermill run.
 * One place for nes-run and the service's runner worker, so both write the same notebook.
 */
import { upgradeToCurrentMinor } from './cell-ids.ts';
import { removeErrorMarkers } from './error-markers.ts';
import type { Cell, JsonObject, Notebook, PapermillCellMetadata } from './nbformat.ts';
import { parameterize } from './parameterize.ts';

/**
 * `metadata.papermill.version`: the papermill release whose output format NES writes. Readers
 * use it to know which papermill semantics a notebook follows; NES's own version is recorded
 * under `metadata.nes`.
 */
export const PAPERMILL_COMPATIBLE_VERSION = '2.6.0';

/** papermill's `load_notebook_node`, on an already-read notebook. Never mutates its input. */
export function loadAsPapermill(input: Notebook): Notebook {
  const nb = upgradeToCurrentMinor(input);
  const metadata = { ...nb.metadata };
  metadata.papermill ??= {
    default_parameters: {},
    parameters: {},
    environment_variables: {},
    version: PAPERMILL_COMPATIBLE_VERSION,
  };
  const cells = nb.cells.map((cell): Cell => {
    if (cell.metadata.tags !== undefined && cell.metadata.papermill !== undefined) return cell;
    return {
      ...cell,
      metadata: {
        ...cell.metadata,
        tags: cell.metadata.tags ?? [],
        papermill: cell.metadata.papermill ?? ({} as PapermillCellMetadata),
      },
    } as Cell;
  });
  return { ...nb, metadata, cells };
}

export interface PapermillPrepareOptions {
  kernelName?: string;
  language?: string;
  reportMode?: boolean;
  /** Recorded as metadata.papermill.input_path / output_path. */
  inputPath: string;
  outputPath: string;
}

/**
 * The notebook papermill would run (or write under --prepare-only) for these parameters.
 * Throws what `parameterize` throws (an unsupported language or value).
 */
export function prepareAsPapermill(
  input: Notebook,
  parameters: Record<string, unknown>,
  options: PapermillPrepareOptions,
): { notebook: Notebook; warnings: string[] } {
  let nb = loadAsPapermill(input);
  const warnings: string[] = [];
  if (Object.keys(parameters).length > 0) {
    const result = parameterize(nb, parameters, {
      ...(options.kernelName !== undefined ? { kernelName: options.kernelName } : {}),
      ...(options.language !== undefined ? { language: options.language } : {}),
      ...(options.reportMode !== undefined ? { reportMode: options.reportMode } : {}),
    });
    warnings.push(...result.warnings);
    nb = result.notebook;
  }
  const cells = options.reportMode ? nb.cells.map(hideSource) : nb.cells;
  const papermill = {
    ...nb.metadata.papermill,
    input_path: options.inputPath,
    output_path: options.outputPath,
  };
  nb = { ...nb, cells, metadata: { ...nb.metadata, papermill } };
  return { notebook: removeErrorMarkers(nb), warnings };
}

function hideSource(cell: Cell): Cell {
  if (cell.cell_type !== 'code') return cell;
  const jupyter = (cell.metadata.jupyter ?? {}) as JsonObject;
  return { ...cell, metadata: { ...cell.metadata, jupyter: { ...jupyter, source_hidden: true } } };
}
