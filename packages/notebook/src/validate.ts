/**
 * Structural validation of nbformat 4.0-4.5 documents, following the official v4 JSON schemas
 * (nbformat/v4/nbformat.v4.*.schema.json): the same required fields, types and closed property
 * sets, reported as one `NotebookFormatError` with a path people can follow.
 *
 * It accepts both the disk form (multiline strings as arrays of lines) and the in-memory form
 * (one string), so it checks what `readNotebook` is given and what `serializeNotebook` emits.
 *
 * Not checked, on purpose: schema details that no reader relies on (`metadata.authors` items,
 * `codemirror_mode` shape, ...). Every metadata object stays open, as in the schema.
 */
import { NotebookFormatError } from './format-error.ts';

export type IdPolicy =
  /** nbformat's `reads`: missing or duplicate ids on 4.5 are accepted (the reader repairs them). */
  | 'repairable'
  /** nbformat's `isvalid`: a 4.5 notebook must have unique ids on every cell. */
  | 'strict';

/** The schema's `cell_id`: 1 to 64 characters from this set. */
export const CELL_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

const OUTPUT_TYPES = ['stream', 'display_data', 'execute_result', 'error'] as const;
const CELL_TYPES = ['code', 'markdown', 'raw'] as const;
const STREAM_NAMES = ['stdout', 'stderr'] as const;

const NOTEBOOK_KEYS = ['cells', 'metadata', 'nbformat', 'nbformat_minor'];
const CODE_CELL_KEYS = ['cell_type', 'execution_count', 'id', 'metadata', 'outputs', 'source'];
const TEXT_CELL_KEYS = ['attachments', 'cell_type', 'id', 'metadata', 'source'];
const OUTPUT_KEYS: Record<(typeof OUTPUT_TYPES)[number], string[]> = {
  stream: ['name', 'output_type', 'text'],
  // `transient` belongs to the kernel protocol only: the schema rejects it in a file.
  display_data: ['data', 'metadata', 'output_type'],
  execute_result: ['data', 'execution_count', 'metadata', 'output_type'],
  error: ['ename', 'evalue', 'output_type', 'traceback'],
};

type Obj = Record<string, unknown>;

/**
 * Throws `NotebookFormatError` at the first structural problem. With `ids: 'strict'` (the
 * default) a 4.5 notebook must carry a unique valid id on every cell, and earlier versions none.
 */
export function validateNotebook(json: unknown, options: { ids?: IdPolicy } = {}): void {
  const ids = options.ids ?? 'strict';
  const root = expectObject(json, '', 'a notebook object');
  if (root.nbformat !== 4) {
    const hint =
      typeof root.nbformat === 'number' && root.nbformat < 4 ? ' (convert it first)' : '';
    fail('nbformat', `4${hint}`, root.nbformat);
  }
  const minor = root.nbformat_minor;
  if (!isNonNegativeInteger(minor)) fail('nbformat_minor', 'an integer >= 0', minor);
  closedKeys(root, '', NOTEBOOK_KEYS);
  validateNotebookMetadata(root.metadata);
  const cells = expectArray(root.cells, 'cells', 'an array of cells');
  const seen = new Set<string>();
  cells.forEach((cell, index) => {
    validateCell(cell, `cells[${index}]`, minor, ids, seen);
  });
}

function validateNotebookMetadata(value: unknown): void {
  const metadata = expectObject(value, 'metadata', 'an object');
  if (metadata.kernelspec !== undefined) {
    const spec = expectObject(metadata.kernelspec, 'metadata.kernelspec', 'an object');
    expectString(spec.name, 'metadata.kernelspec.name');
    expectString(spec.display_name, 'metadata.kernelspec.display_name');
  }
  if (metadata.language_info !== undefined) {
    const info = expectObject(metadata.language_info, 'metadata.language_info', 'an object');
    expectString(info.name, 'metadata.language_info.name');
  }
  if (metadata.title !== undefined) expectString(metadata.title, 'metadata.title');
  if (metadata.authors !== undefined) expectArray(metadata.authors, 'metadata.authors', 'an array');
}

function validateCell(
  value: unknown,
  path: string,
  minor: number,
  ids: IdPolicy,
  seen: Set<string>,
): void {
  const cell = expectObject(value, path, 'a cell object');
  const cellType = cell.cell_type;
  if (!includes(CELL_TYPES, cellType)) fail(`${path}.cell_type`, oneOf(CELL_TYPES), cellType);
  validateCellId(cell, path, minor, ids, seen);
  closedKeys(cell, path, cellType === 'code' ? CODE_CELL_KEYS : TEXT_CELL_KEYS);
  validateCellMetadata(cell.metadata, `${path}.metadata`);
  expectMultiline(cell.source, `${path}.source`);
  if (cellType === 'code') {
    expectExecutionCount(cell.execution_count, `${path}.execution_count`);
    const outputs = expectArray(cell.outputs, `${path}.outputs`, 'an array of outputs');
    outputs.forEach((output, index) => {
      validateOutput(output, `${path}.outputs[${index}]`);
    });
  } else if (cell.attachments !== undefined) {
    const attachments = expectObject(cell.attachments, `${path}.attachments`, 'an object');
    for (const [name, bundle] of Object.entries(attachments)) {
      validateMimeBundle(bundle, `${path}.attachments${key(name)}`);
    }
  }
}

function validateCellId(
  cell: Obj,
  path: string,
  minor: number,
  ids: IdPolicy,
  seen: Set<string>,
): void {
  const id = cell.id;
  if (id === undefined) {
    if (minor >= 5 && ids === 'strict') fail(`${path}.id`, 'a cell id (required from 4.5)', id);
    return;
  }
  if (typeof id !== 'string' || !CELL_ID_PATTERN.test(id)) {
    fail(`${path}.id`, '1 to 64 characters from a-z, A-Z, 0-9, "-" and "_"', id);
  }
  if (ids !== 'strict') return;
  if (minor < 5) fail(`${path}.id`, 'no id before nbformat 4.5', id);
  if (seen.has(id)) fail(`${path}.id`, 'an id unique in the notebook', id);
  seen.add(id);
}

function validateCellMetadata(value: unknown, path: string): void {
  const metadata = expectObject(value, path, 'an object');
  if (metadata.tags !== undefined) {
    const tags = expectArray(metadata.tags, `${path}.tags`, 'an array of strings');
    const unique = new Set<string>();
    tags.forEach((tag, index) => {
      if (typeof tag !== 'string' || tag === '' || tag.includes(',')) {
        fail(`${path}.tags[${index}]`, 'a non-empty string without commas', tag);
      }
      if (unique.has(tag)) fail(`${path}.tags[${index}]`, 'a tag not already listed', tag);
      unique.add(tag);
    });
  }
  if (metadata.jupyter !== undefined) {
    const jupyter = expectObject(metadata.jupyter, `${path}.jupyter`, 'an object');
    for (const flag of ['source_hidden', 'outputs_hidden']) {
      const hidden = jupyter[flag];
      if (hidden !== undefined && typeof hidden !== 'boolean') {
        fail(`${path}.jupyter.${flag}`, 'a boolean', hidden);
      }
    }
  }
  if (metadata.collapsed !== undefined && typeof metadata.collapsed !== 'boolean') {
    fail(`${path}.collapsed`, 'a boolean', metadata.collapsed);
  }
  const scrolled = metadata.scrolled;
  if (scrolled !== undefined && typeof scrolled !== 'boolean' && scrolled !== 'auto') {
    fail(`${path}.scrolled`, 'one of true, false, "auto"', scrolled);
  }
  if (metadata.execution !== undefined) {
    const execution = expectObject(metadata.execution, `${path}.execution`, 'an object');
    for (const [name, stamp] of Object.entries(execution)) {
      expectString(stamp, `${path}.execution${key(name)}`);
    }
  }
}

function validateOutput(value: unknown, path: string): void {
  const output = expectObject(value, path, 'an output object');
  const outputType = output.output_type;
  if (!includes(OUTPUT_TYPES, outputType)) {
    fail(`${path}.output_type`, oneOf(OUTPUT_TYPES), outputType);
  }
  closedKeys(output, path, OUTPUT_KEYS[outputType]);
  switch (outputType) {
    case 'stream':
      // The schema allows any stream name; the kernel protocol (and our type) only these two.
      if (!includes(STREAM_NAMES, output.name))
        fail(`${path}.name`, oneOf(STREAM_NAMES), output.name);
      expectMultiline(output.text, `${path}.text`);
      return;
    case 'execute_result':
      expectExecutionCount(output.execution_count, `${path}.execution_count`);
      validateDisplay(output, path);
      return;
    case 'display_data':
      validateDisplay(output, path);
      return;
    case 'error': {
      expectString(output.ename, `${path}.ename`);
      expectString(output.evalue, `${path}.evalue`);
      const traceback = expectArray(output.traceback, `${path}.traceback`, 'an array of strings');
      traceback.forEach((line, index) => {
        expectString(line, `${path}.traceback[${index}]`);
      });
      return;
    }
  }
}

function validateDisplay(output: Obj, path: string): void {
  validateMimeBundle(output.data, `${path}.data`);
  expectObject(output.metadata, `${path}.metadata`, 'an object');
}

/** JSON MIME types (`application/json`, `application/*+json`) hold any JSON; others text. */
export function isJsonMimeType(mimeType: string): boolean {
  return /^application\/(.*\+)?json$/.test(mimeType);
}

function validateMimeBundle(value: unknown, path: string): void {
  const bundle = expectObject(value, path, 'an object keyed by MIME type');
  for (const [mimeType, data] of Object.entries(bundle)) {
    if (!isJsonMimeType(mimeType)) expectMultiline(data, `${path}${key(mimeType)}`);
  }
}

// --- small checks, each failing with the path it was given --------------------------------

function fail(path: string, expected: string, got: unknown): never {
  throw new NotebookFormatError({ path, expected, got: describe(got) });
}

function expectObject(value: unknown, path: string, expected: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path, expected, value);
  }
  return value as Obj;
}

function expectArray(value: unknown, path: string, expected: string): unknown[] {
  if (!Array.isArray(value)) fail(path, expected, value);
  return value;
}

function expectString(value: unknown, path: string): void {
  if (typeof value !== 'string') fail(path, 'a string', value);
}

/** The schema's `multiline_string`: one string, or an array of strings (lines). */
function expectMultiline(value: unknown, path: string): void {
  if (typeof value === 'string') return;
  if (Array.isArray(value)) {
    value.forEach((line, index) => {
      if (typeof line !== 'string') fail(`${path}[${index}]`, 'a string', line);
    });
    return;
  }
  fail(path, 'a string or an array of strings', value);
}

function expectExecutionCount(value: unknown, path: string): void {
  if (value !== null && !isNonNegativeInteger(value)) fail(path, 'an integer >= 0 or null', value);
}

function closedKeys(object: Obj, path: string, allowed: string[]): void {
  for (const name of Object.keys(object)) {
    if (!allowed.includes(name)) {
      const where = path === '' ? name : `${path}${key(name)}`;
      fail(where, `no such property (allowed: ${allowed.join(', ')})`, object[name]);
    }
  }
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function includes<T extends string>(choices: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (choices as readonly string[]).includes(value);
}

function oneOf(choices: readonly string[]): string {
  return `one of ${choices.join(', ')}`;
}

/** `.name` for identifier-like keys, `["text/plain"]` for the rest. */
function key(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/** How a found value reads in a message: short, JSON-like, `nothing (missing)` if absent. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
