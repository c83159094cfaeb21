/**
 * papermill's `parameterize_notebook`: put the run's parameters into the notebook as a code
 * cell tagged `injected-parameters`, so the output notebook shows what it ran with.
 *
 * Placement, as papermill does it:
 * - an existing injected cell (from a previous run) is replaced in place;
 * - otherwise the new cell goes right after the FIRST cell tagged `parameters`;
 * - otherwise at the top, with a warning.
 * One deliberate difference: papermill replaces only the first injected cell; here every
 * injected cell is removed (the new one takes the first one's place). A second stale injected
 * cell, left by hand editing, would silently re-assign old values after the new ones.
 *
 * Like papermill, the notebook is first upgraded to nbformat 4.5 (`nbformat.v4.upgrade`), and
 * `metadata.papermill.parameters` records the parameters. Unlike papermill's `execute_notebook`,
 * this function always injects: papermill skips the call when no parameters are given, and
 * callers that want that behaviour should skip it too.
 *
 * Pure: the input notebook and parameters are never mutated.
 */
import { deterministicCellId, upgradeToCurrentMinor } from './cell-ids.ts';
import type { Cell, CellMetadata, CodeCell, JsonObject, Notebook } from './nbformat.ts';
import { translateParameters } from './translators/index.ts';

export const PARAMETERS_TAG = 'parameters';
export const INJECTED_PARAMETERS_TAG = 'injected-parameters';

export interface ParameterizeOptions {
  /** Kernel to translate for; defaults to `metadata.kernelspec.name`. */
  kernelName?: string;
  /** Language to translate for; defaults to kernelspec.language, then language_info.name. */
  language?: string;
  /** papermill's `report_mode`: hide the injected cell's source. */
  reportMode?: boolean;
  /** The comment line heading the cell; papermill's default is `Parameters`. */
  comment?: string;
}

export interface ParameterizeResult {
  notebook: Notebook;
  warnings: string[];
}

/**
 * @throws UnsupportedLanguageError (from the translators) when neither the kernel nor the
 *   language has a translator.
 */
export function parameterize(
  nb: Notebook,
  parameters: Record<string, unknown>,
  options: ParameterizeOptions = {},
): ParameterizeResult {
  const source = translateParameters({
    kernelName: options.kernelName ?? notebookKernelName(nb),
    language: options.language ?? notebookLanguage(nb),
    parameters,
    comment: options.comment ?? 'Parameters',
  });
  const upgraded = upgradeToCurrentMinor(nb);
  const warnings: string[] = [];

  const firstInjected = upgraded.cells.findIndex((cell) => hasTag(cell, INJECTED_PARAMETERS_TAG));
  const kept = upgraded.cells.filter((cell) => !hasTag(cell, INJECTED_PARAMETERS_TAG));
  let at: number;
  if (firstInjected >= 0) {
    at = firstInjected;
  } else {
    const parametersCell = kept.findIndex((cell) => hasTag(cell, PARAMETERS_TAG));
    if (parametersCell < 0) {
      // papermill's own wording (logger.warning).
      warnings.push("Input notebook does not contain a cell with tag 'parameters'");
    }
    at = parametersCell + 1; // 0 (the top) when there is no parameters cell
  }

  const injected = injectedCell(source, options.reportMode ?? false, kept);
  const cells = [...kept.slice(0, at), injected, ...kept.slice(at)];
  const metadata = {
    ...upgraded.metadata,
    papermill: { ...upgraded.metadata.papermill, parameters: copyParameters(parameters) },
  };
  return { notebook: { ...upgraded, metadata, cells }, warnings };
}

/** papermill's engine default (`Engine.nb_kernel_name`): the notebook's kernelspec name. */
export function notebookKernelName(nb: Notebook): string | undefined {
  return nb.metadata.kernelspec?.name || undefined;
}

/** papermill's `Engine.nb_language`: kernelspec.language, else language_info.name. */
export function notebookLanguage(nb: Notebook): string | undefined {
  return nb.metadata.kernelspec?.language || nb.metadata.language_info?.name || undefined;
}

export function hasTag(cell: Cell, tag: string): boolean {
  return cell.metadata.tags?.includes(tag) ?? false;
}

function injectedCell(source: string, reportMode: boolean, others: Cell[]): CodeCell {
  const metadata: CellMetadata = { tags: [INJECTED_PARAMETERS_TAG] };
  // papermill replaces `jupyter` wholesale on its new cell: it starts empty.
  if (reportMode) metadata.jupyter = { source_hidden: true };
  // Seeded by the source only, so the same parameters give the same id on every run.
  const taken = new Set(others.flatMap((cell) => (cell.id === undefined ? [] : [cell.id])));
  return {
    cell_type: 'code',
    id: deterministicCellId(`${INJECTED_PARAMETERS_TAG}\0${source}`, taken),
    metadata,
    source,
    execution_count: null,
    outputs: [],
  };
}

/**
 * A copy of the plain arrays and objects, so the notebook never aliases the caller's values.
 * Other values (FloatValue, bigint, primitives) are immutable and kept as they are: the writer
 * gives them their Python form (`1.0` for a FloatValue).
 */
function copyParameters(parameters: Record<string, unknown>): JsonObject {
  return copyValue(parameters) as JsonObject;
}

function copyValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyValue);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, copyValue(v)]));
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyValue(v)]));
  }
  return value;
}
