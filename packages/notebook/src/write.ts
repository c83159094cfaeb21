/**
 * Writing, byte for byte as `nbformat.write(nb, f)`: transient keys dropped, text split into
 * line arrays where nbformat splits it (rwbase `split_lines`), then `json.dumps` with sorted
 * keys, one-space indent and non-ASCII kept, plus the trailing newline `nbformat.write` adds.
 * See python-json.ts for the one difference (integral floats).
 */
import type { Attachments, Cell, JsonValue, MimeBundle, Notebook, Output } from './nbformat.ts';
import { LazyArray, pythonJsonChunks, pythonJsonDumps, splitLines } from './python-json.ts';

/** MIME types outside text/* that nbformat also splits into lines. */
const SPLIT_NON_TEXT_MIME_TYPES = new Set(['application/javascript', 'image/svg+xml']);

export function serializeNotebook(nb: Notebook): string {
  return `${pythonJsonDumps(diskNotebook(nb, (cells, write) => cells.map(write)))}\n`;
}

/**
 * `serializeNotebook`'s text in pieces of about 64 KiB (see pythonJsonChunks), each cell and
 * output turned into its on-disk form only as it is written. Saving a notebook that holds 50 MB
 * of output this way costs about one piece of memory instead of several copies of the whole text.
 */
export function* serializeNotebookChunks(nb: Notebook): Generator<string> {
  yield* pythonJsonChunks(diskNotebook(nb, (cells, write) => new LazyArray(cells, write)));
  yield '\n';
}

type ArrayWriter = <T>(items: readonly T[], write: (item: T) => unknown) => unknown;

function diskNotebook(nb: Notebook, array: ArrayWriter): Record<string, unknown> {
  const metadata = { ...nb.metadata };
  delete metadata.orig_nbformat;
  delete metadata.orig_nbformat_minor;
  delete metadata.signature;
  return {
    nbformat: nb.nbformat,
    nbformat_minor: nb.nbformat_minor,
    metadata,
    cells: array(nb.cells, (cell) => writeCell(cell, array)),
  };
}

function writeCell(cell: Cell, array: ArrayWriter): Record<string, unknown> {
  const metadata = { ...cell.metadata };
  delete metadata.trusted;
  const disk: Record<string, unknown> = { ...cell, metadata, source: splitText(cell.source) };
  if (cell.cell_type === 'code') {
    disk.outputs = array(cell.outputs, writeOutput);
  } else if (cell.attachments !== undefined) {
    disk.attachments = writeAttachments(cell.attachments);
  }
  return disk;
}

function writeOutput(output: Output): Record<string, unknown> {
  switch (output.output_type) {
    case 'stream':
      return { ...output, text: splitText(output.text) };
    case 'display_data':
    case 'execute_result':
      return { ...output, data: splitBundle(output.data) };
    case 'error':
      return { ...output };
  }
}

function writeAttachments(attachments: Attachments): Record<string, unknown> {
  const disk: Record<string, unknown> = {};
  for (const [name, bundle] of Object.entries(attachments)) disk[name] = splitBundle(bundle);
  return disk;
}

/** rwbase `_split_mimebundle`: text/*, application/javascript and image/svg+xml strings only. */
function splitBundle(bundle: MimeBundle): Record<string, JsonValue> {
  const disk: Record<string, JsonValue> = {};
  for (const [mimeType, data] of Object.entries(bundle)) {
    const splits = mimeType.startsWith('text/') || SPLIT_NON_TEXT_MIME_TYPES.has(mimeType);
    disk[mimeType] = splits && typeof data === 'string' ? splitLines(data) : data;
  }
  return disk;
}

/** Only strings are split: a value that is already a line array passes through. */
function splitText(text: string | string[]): string | string[] {
  return typeof text === 'string' ? splitLines(text) : text;
}
