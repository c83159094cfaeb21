/**
 * papermill's `inspect_notebook`: the parameters a notebook declares in its first cell tagged
 * `parameters`, read without running anything.
 *
 * Unlike papermill, this never throws: an unknown language or a language without an inspector
 * gives no parameters and a warning, because the API calls it on every submitted notebook.
 */
import type { Notebook } from '../nbformat.ts';
import { TRANSLATORS } from '../translators/registry.ts';
import type { ParameterInfo } from './parameter-info.ts';
import { inspectPythonSource } from './python-parameters.ts';
import { inspectRSource } from './r-parameters.ts';

export interface InspectOptions {
  /** Overrides `metadata.kernelspec.name`. */
  kernelName?: string;
  /** Overrides `metadata.kernelspec.language` / `metadata.language_info.name`. */
  language?: string;
}

export interface InspectResult {
  /** The language the cell was read as: the translator's language, e.g. `python` or `R`. */
  language: string;
  parameters: ParameterInfo[];
  warnings: string[];
}

/** Inspectors by translator (so kernel aliases such as `pysparkkernel` follow their language). */
const INSPECTORS: ReadonlyMap<string, (source: string) => ParameterInfo[]> = new Map([
  ['python', inspectPythonSource],
  ['R', inspectRSource],
]);

export function inspectParameters(nb: Notebook, options: InspectOptions = {}): InspectResult {
  const kernelName = options.kernelName ?? nb.metadata.kernelspec?.name;
  const language =
    options.language ?? nb.metadata.kernelspec?.language ?? nb.metadata.language_info?.name;

  const translator =
    (kernelName !== undefined ? TRANSLATORS.get(kernelName) : undefined) ??
    (language !== undefined ? TRANSLATORS.get(language) : undefined);
  const languageLabel = translator?.name ?? language ?? kernelName ?? 'unknown';

  const cell = nb.cells.find((candidate) => candidate.metadata.tags?.includes('parameters'));
  if (cell === undefined) {
    return {
      language: languageLabel,
      parameters: [],
      warnings: ["no cell is tagged 'parameters'"],
    };
  }
  const inspect = translator === undefined ? undefined : INSPECTORS.get(translator.name);
  if (inspect === undefined) {
    return {
      language: languageLabel,
      parameters: [],
      warnings: [
        `parameter inspection is not supported for kernel '${kernelName ?? ''}' or language '${language ?? ''}'`,
      ],
    };
  }
  // papermill returns a dict by name: a repeated name keeps its first position, last value.
  const byName = new Map<string, ParameterInfo>();
  const warnings: string[] = [];
  for (const parameter of inspect(cell.source)) {
    if (byName.has(parameter.name)) {
      warnings.push(`parameter '${parameter.name}' is assigned more than once; the last wins`);
    }
    byName.set(parameter.name, parameter);
  }
  return { language: languageLabel, parameters: [...byName.values()], warnings };
}
