/**
 * Reading: JSON text or an already-parsed value in, a validated in-memory `Notebook` out,
 * as nbformat's `reads(s, as_version=4)` would give it: multiline line arrays joined into one
 * string (`rejoin_lines`), transient keys dropped (`strip_transient`), 4.5 cell ids repaired.
 * Never mutates the value it is given.
 */
import { ensureCellIds } from './cell-ids.ts';
import { NotebookFormatError } from './format-error.ts';
import { findJsonSyntaxProblem } from './json-syntax.ts';
import type { Attachments, Cell, MimeBundle, Notebook, Output } from './nbformat.ts';
import { pythonJsonLoads } from './python-json.ts';
import { isJsonMimeType, validateNotebook } from './validate.ts';

/** Parses notebook JSON text. Syntax errors become `NotebookFormatError` with line and column. */
export function parseNotebook(text: string): Notebook {
  // A UTF-8 byte order mark is common from Windows editors; JSON.parse rejects it.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let json: unknown;
  try {
    json = pythonJsonLoads(body);
  } catch (error) {
    throw syntaxError(body, error instanceof Error ? error.message : String(error));
  }
  return readNotebook(json);
}

/** Validates a parsed notebook (disk or memory form) and returns a fresh in-memory copy. */
export function readNotebook(json: unknown): Notebook {
  validateNotebook(json, { ids: 'repairable' });
  // Validated above: the shapes below hold, except that multiline fields may still be arrays.
  const disk = json as Notebook;
  const minor = disk.nbformat_minor;
  const metadata = structuredClone(disk.metadata);
  delete metadata.orig_nbformat;
  delete metadata.orig_nbformat_minor;
  delete metadata.signature;
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: minor,
    metadata,
    cells: disk.cells.map((cell) => readCell(cell, minor)),
  };
  return ensureCellIds(nb);
}

function readCell(cell: Cell, minor: number): Cell {
  const copy = structuredClone(cell);
  copy.source = joinLines(copy.source);
  delete copy.metadata.trusted;
  // An id is not part of the 4.0-4.4 schemas; nbformat's normalize() strips it.
  if (minor < 5) delete copy.id;
  if (copy.cell_type === 'code') {
    copy.outputs = copy.outputs.map(readOutput);
  } else if (copy.attachments !== undefined) {
    copy.attachments = readAttachments(copy.attachments);
  }
  return copy;
}

function readOutput(output: Output): Output {
  switch (output.output_type) {
    case 'stream':
      return { ...output, text: joinLines(output.text) };
    case 'display_data':
    case 'execute_result':
      return { ...output, data: joinBundle(output.data) };
    case 'error':
      return output;
  }
}

function readAttachments(attachments: Attachments): Attachments {
  const result: Attachments = {};
  for (const [name, bundle] of Object.entries(attachments)) result[name] = joinBundle(bundle);
  return result;
}

/** Text MIME data may be split into lines; JSON MIME data is left as it is. */
function joinBundle(bundle: MimeBundle): MimeBundle {
  const result: MimeBundle = {};
  for (const [mimeType, data] of Object.entries(bundle)) {
    result[mimeType] = isJsonMimeType(mimeType) ? data : joinLines(data);
  }
  return result;
}

function joinLines(value: unknown): string {
  return Array.isArray(value) ? value.join('') : String(value);
}

function syntaxError(text: string, message: string): NotebookFormatError {
  const problem = findJsonSyntaxProblem(text);
  // JSON.parse and the scanner disagree only on inputs neither should see; keep V8's words.
  const line = problem?.line ?? 1;
  const column = problem?.column ?? 1;
  const reason = problem?.reason ?? message;
  return new NotebookFormatError({
    path: '',
    expected: 'valid JSON',
    got: reason,
    line,
    column,
    message: `invalid JSON at line ${line}, column ${column}: ${reason}`,
  });
}
