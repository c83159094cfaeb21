/**
 * The nbformat v4 shapes the viewer reads, and `parseNotebook`, which turns
 * the text of an .ipynb into one. Validation is deliberately shallow: a run's
 * output notebook can be 50 MB, so we check the structure we index into
 * (cells, their types, outputs) and leave the rest to the renderers, which
 * treat every field defensively.
 */

/** The shapes are nbformat's, as a file holds them (@nes/notebook's .ipynb types). */
import type { JsonValue, MultilineString, IpynbNotebook as NotebookJson } from '@nes/notebook';

export type {
  IpynbAttachments as Attachments,
  IpynbCell as Cell,
  IpynbCodeCell as CodeCell,
  IpynbMarkdownCell as MarkdownCell,
  IpynbMimeBundle as MimeBundle,
  IpynbNotebook as NotebookJson,
  IpynbOutput as Output,
  JsonObject,
  JsonValue,
  MultilineString,
} from '@nes/notebook';

/** Thrown by `parseNotebook`; the message names what is wrong and where. */
export class NotebookParseError extends Error {
  /** JSON path of the offending field, e.g. `cells[3].outputs[0].output_type`; empty for the whole document. */
  readonly path: string;
  constructor(message: string, path = '') {
    super(path ? `${path}: ${message}` : message);
    this.name = 'NotebookParseError';
    this.path = path;
  }
}

/** Joins nbformat's multiline strings; tolerates a missing value. */
export function joinText(text: MultilineString | JsonValue | undefined): string {
  if (typeof text === 'string') return text;
  if (Array.isArray(text)) return text.join('');
  return '';
}

const CELL_TYPES = new Set(['code', 'markdown', 'raw']);
const OUTPUT_TYPES = new Set([
  'stream',
  'error',
  'display_data',
  'execute_result',
  'update_display_data',
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMultiline(value: unknown): boolean {
  return typeof value === 'string' || Array.isArray(value);
}

function checkOutput(output: unknown, path: string): void {
  if (!isObject(output)) throw new NotebookParseError('must be an object', path);
  const type = output.output_type;
  if (typeof type !== 'string' || !OUTPUT_TYPES.has(type)) {
    throw new NotebookParseError(
      `unknown output_type ${JSON.stringify(type)} (expected stream, error, display_data or execute_result)`,
      `${path}.output_type`,
    );
  }
  if (type === 'stream' && !isMultiline(output.text)) {
    throw new NotebookParseError('must be a string or a list of strings', `${path}.text`);
  }
  if (type === 'error' && !Array.isArray(output.traceback)) {
    throw new NotebookParseError('must be a list of strings', `${path}.traceback`);
  }
  if ((type === 'display_data' || type === 'execute_result') && !isObject(output.data)) {
    throw new NotebookParseError('must be an object keyed by MIME type', `${path}.data`);
  }
}

function checkCell(cell: unknown, path: string): void {
  if (!isObject(cell)) throw new NotebookParseError('must be an object', path);
  const type = cell.cell_type;
  if (typeof type !== 'string' || !CELL_TYPES.has(type)) {
    throw new NotebookParseError(
      `unknown cell_type ${JSON.stringify(type)} (expected code, markdown or raw)`,
      `${path}.cell_type`,
    );
  }
  if (!isMultiline(cell.source))
    throw new NotebookParseError('must be a string or a list of strings', `${path}.source`);
  if (cell.metadata !== undefined && !isObject(cell.metadata)) {
    throw new NotebookParseError('must be an object', `${path}.metadata`);
  }
  if (type !== 'code') return;
  if (!Array.isArray(cell.outputs))
    throw new NotebookParseError('must be a list', `${path}.outputs`);
  for (const [i, output] of cell.outputs.entries()) checkOutput(output, `${path}.outputs[${i}]`);
}

/**
 * Parses an .ipynb document. Throws `NotebookParseError` when the text is not
 * JSON, not an nbformat 4 notebook, or a cell/output has the wrong shape.
 * Missing `metadata` objects are filled in so renderers can read them freely.
 */
export function parseNotebook(text: string): NotebookJson {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new NotebookParseError(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(doc))
    throw new NotebookParseError('not a notebook: the document must be a JSON object');
  if (doc.nbformat !== 4) {
    const found =
      doc.nbformat === undefined ? 'no nbformat field' : `nbformat ${JSON.stringify(doc.nbformat)}`;
    throw new NotebookParseError(`not an nbformat 4 notebook (${found})`);
  }
  if (!Array.isArray(doc.cells)) throw new NotebookParseError('must be a list', 'cells');
  if (doc.metadata !== undefined && !isObject(doc.metadata))
    throw new NotebookParseError('must be an object', 'metadata');
  for (const [i, cell] of doc.cells.entries()) checkCell(cell, `cells[${i}]`);
  doc.metadata ??= {};
  doc.nbformat_minor ??= 0;
  for (const cell of doc.cells as Record<string, unknown>[]) cell.metadata ??= {};
  return doc as unknown as NotebookJson;
}
