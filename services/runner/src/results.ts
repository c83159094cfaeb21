/**
 * A run's results, read from its executed notebook's outputs: what `nes.record` and `nes.exit`
 * (the `nes` Python module, services/runner/python/nes-results) and scrapbook's `sb.glue` wrote.
 * Reading outputs rather than listening on a side channel is what makes results work on any
 * kernel the runner reaches (a remote one too) and keeps them in the output notebook.
 *
 * The rules follow scrapbook's reader (scrapbook/models.py): outputs in notebook order; a data
 * scrap is `application/scrapbook.scrap.<encoder>+json` with `{name, data, encoder, version}`;
 * a display scrap is an output whose metadata says `scrapbook: {name, display: true}`; papermill's
 * older `application/papermill.record+json` holds `{name: value}`; a later result of the same
 * name replaces an earlier one. NES adds `application/vnd.nes.exit+json`, the value of
 * `nes.exit`, and caps: values are kept up to RESULT_LIMITS, larger ones by reference only.
 */
import type { Cell, JsonObject, JsonValue, Notebook, Output } from '@nes/notebook';

const SCRAP_MIME_PREFIX = 'application/scrapbook.scrap.';
const PAPERMILL_RECORD_MIME_PREFIX = 'application/papermill.record';
export const EXIT_MIME = 'application/vnd.nes.exit+json';

export const RESULT_LIMITS = {
  /** Bytes of one value as compact JSON (the `nes` module refuses larger ones itself). */
  valueBytes: 64 * 1024,
  /** Bytes of all values of a run together. */
  totalBytes: 1024 * 1024,
  /** Results a run may have. */
  count: 1000,
  /** Characters of a name. */
  nameLength: 128,
} as const;

export interface RunResult {
  name: string;
  /**
   * `value`: a JSON value (in `value`, unless `omitted` says why not). `display`: display data
   * (a DataFrame, a figure), kept by reference to its output. `encoded`: a scrapbook encoding
   * NES does not decode (pandas, arrow), kept by reference to its output.
   */
  kind: 'value' | 'display' | 'encoded';
  value?: JsonValue;
  /** Where it is in the output notebook. */
  cellIndex: number;
  outputIndex: number;
  /** The mime types of a display result. */
  mimeTypes?: string[];
  /** The scrapbook encoder of an encoded result (`pandas`, `arrow`...). */
  encoder?: string;
  /** Why the value is not kept (too large); the output in the notebook still has it. */
  omitted?: string;
}

export interface RunResults {
  version: 1;
  /** In the order they were first recorded; a later record of a name replaced the earlier. */
  results: RunResult[];
  /** `nes.exit(value)`: the run ended there, successfully. */
  exit: { value: JsonValue; cellIndex: number } | null;
  /** Results past the count or total size limits, not kept (their names). */
  dropped: string[];
}

export const NO_RESULTS: RunResults = Object.freeze({
  version: 1,
  results: [],
  exit: null,
  dropped: [],
}) as RunResults;

/** The JSON values by name: what a caller (XCom, `nes get --results`) usually wants. */
export function resultValues(results: RunResults): Record<string, JsonValue> {
  const values: Record<string, JsonValue> = {};
  for (const result of results.results) {
    if (result.kind === 'value' && result.value !== undefined) values[result.name] = result.value;
  }
  return values;
}

export function collectResults(nb: Notebook): RunResults {
  const byName = new Map<string, RunResult>();
  let exit: RunResults['exit'] = null;
  nb.cells.forEach((cell: Cell, cellIndex) => {
    if (cell.cell_type !== 'code') return;
    cell.outputs.forEach((output, outputIndex) => {
      const at = { cellIndex, outputIndex };
      for (const result of readOutput(output, at)) {
        const previous = byName.get(result.name);
        // sb.glue(name, value, display=True) writes the data, then its display: keep both.
        if (
          result.kind === 'display' &&
          previous?.kind === 'value' &&
          previous.cellIndex === cellIndex
        ) {
          byName.set(result.name, { ...previous, mimeTypes: result.mimeTypes ?? [] });
        } else {
          byName.set(result.name, result);
        }
      }
      const exitPayload = dataOf(output)?.[EXIT_MIME];
      if (isObject(exitPayload)) exit = { value: exitPayload.value ?? null, cellIndex };
    });
  });
  return applyLimits([...byName.values()], exit);
}

function dataOf(output: Output): JsonObject | null {
  if (output.output_type !== 'display_data' && output.output_type !== 'execute_result') {
    return null;
  }
  return output.data as JsonObject;
}

function readOutput(output: Output, at: { cellIndex: number; outputIndex: number }): RunResult[] {
  const data = dataOf(output);
  if (data === null) return [];
  const found: RunResult[] = [];
  for (const [mime, payload] of Object.entries(data)) {
    if (mime.startsWith(SCRAP_MIME_PREFIX) && isObject(payload) && validName(payload.name)) {
      const encoder = typeof payload.encoder === 'string' ? payload.encoder : '';
      // A scrap kept elsewhere (scrapbook's s3 store) has a reference instead of its data.
      if ((encoder === 'json' || encoder === 'text') && 'data' in payload) {
        found.push({ name: payload.name, kind: 'value', value: payload.data ?? null, ...at });
      } else {
        found.push({ name: payload.name, kind: 'encoded', encoder, ...at });
      }
    } else if (mime.startsWith(PAPERMILL_RECORD_MIME_PREFIX) && isObject(payload)) {
      const [name, value] = Object.entries(payload)[0] ?? [];
      if (validName(name)) found.push({ name, kind: 'value', value: value ?? null, ...at });
    }
  }
  const metadata = (output as { metadata?: JsonObject }).metadata ?? {};
  const scrapbook = isObject(metadata.scrapbook) ? metadata.scrapbook : null;
  const papermill = isObject(metadata.papermill) ? metadata.papermill : null;
  const displayName = scrapbook?.display === true ? scrapbook.name : papermill?.name;
  if (validName(displayName) && found.length === 0) {
    found.push({ name: displayName, kind: 'display', mimeTypes: Object.keys(data), ...at });
  }
  return found;
}

/** Values over the per-value cap keep their reference only; past the totals, results drop. */
function applyLimits(all: RunResult[], exit: RunResults['exit']): RunResults {
  const results: RunResult[] = [];
  const dropped: string[] = [];
  let total = 0;
  for (const result of all) {
    if (results.length >= RESULT_LIMITS.count) {
      dropped.push(result.name);
      continue;
    }
    if (result.kind !== 'value' || result.value === undefined) {
      results.push(result);
      continue;
    }
    const bytes = Buffer.byteLength(JSON.stringify(result.value));
    if (bytes > RESULT_LIMITS.valueBytes) {
      const { value: _omitted, ...rest } = result;
      results.push({
        ...rest,
        omitted: `the value is ${bytes} bytes as JSON; the limit is ${RESULT_LIMITS.valueBytes} (it is still in the notebook)`,
      });
    } else if (total + bytes > RESULT_LIMITS.totalBytes) {
      dropped.push(result.name);
    } else {
      total += bytes;
      results.push(result);
    }
  }
  let kept = exit;
  if (exit !== null && Buffer.byteLength(JSON.stringify(exit.value)) > RESULT_LIMITS.valueBytes) {
    kept = { value: null, cellIndex: exit.cellIndex };
  }
  return { version: 1, results, exit: kept, dropped };
}

function validName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= RESULT_LIMITS.nameLength;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The results as callers receive them (the API's GET /v1/runs/{id}/results, nes-run
 * --results-file, the manifest): the JSON values by name first, then every result in detail.
 */
export interface ResultsDocument {
  values: Record<string, JsonValue>;
  results: RunResult[];
  exit: RunResults['exit'];
  dropped: string[];
}

export function resultsDocument(results: RunResults): ResultsDocument {
  return {
    values: resultValues(results),
    results: results.results,
    exit: results.exit,
    dropped: results.dropped,
  };
}
