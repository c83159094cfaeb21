import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ensureCellIds, upgradeToCurrentMinor } from '../src/cell-ids.ts';
import { NotebookFormatError } from '../src/format-error.ts';
import { parseNotebook, readNotebook } from '../src/read.ts';
import { validateNotebook } from '../src/validate.ts';
import { code, markdown, notebook } from './fixtures.ts';

function expectFormatError(run: () => unknown, path: string, message: RegExp | string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof NotebookFormatError, `not a NotebookFormatError: ${error}`);
    assert.equal(error.code, 'invalid_notebook');
    assert.equal(error.path, path);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

const stream = { output_type: 'stream', name: 'stdout', text: 'x' };

describe('readNotebook rejects what the v4 schemas reject, naming the place', () => {
  const cases: Array<[string, unknown, string, RegExp | string]> = [
    ['not an object', [], '', 'expected a notebook object; got an array'],
    [
      'nbformat 3',
      { nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [] },
      'nbformat',
      /expected 4 \(convert it first\); got 3/,
    ],
    [
      'missing nbformat_minor',
      { nbformat: 4, metadata: {}, cells: [] },
      'nbformat_minor',
      'nbformat_minor: expected an integer >= 0; got nothing (missing)',
    ],
    [
      'unknown top-level key',
      { ...notebook([]), worksheets: [] },
      'worksheets',
      /no such property/,
    ],
    [
      'cells not an array',
      notebook([]).cells === undefined ? {} : { ...notebook([]), cells: {} },
      'cells',
      'cells: expected an array of cells; got an object',
    ],
    [
      'unknown cell type',
      notebook([{ ...code('a', ''), cell_type: 'heading' }]),
      'cells[0].cell_type',
      'cells[0].cell_type: expected one of code, markdown, raw; got "heading"',
    ],
    [
      'code cell without outputs',
      notebook([{ cell_type: 'code', id: 'a', metadata: {}, source: '', execution_count: null }]),
      'cells[0].outputs',
      /expected an array of outputs; got nothing \(missing\)/,
    ],
    [
      'execution_count a string',
      notebook([code('a', '', { execution_count: '1' })]),
      'cells[0].execution_count',
      'cells[0].execution_count: expected an integer >= 0 or null; got "1"',
    ],
    [
      'negative execution_count',
      notebook([code('a', '', { execution_count: -1 })]),
      'cells[0].execution_count',
      /got -1/,
    ],
    [
      'source array with a number',
      notebook([code('a', ['x', 1] as unknown as string[])]),
      'cells[0].source[1]',
      'cells[0].source[1]: expected a string; got 1',
    ],
    [
      'tags not strings',
      notebook([code('a', '', { metadata: { tags: ['ok', 3] } })]),
      'cells[0].metadata.tags[1]',
      /expected a non-empty string without commas; got 3/,
    ],
    [
      'tag with a comma',
      notebook([code('a', '', { metadata: { tags: ['a,b'] } })]),
      'cells[0].metadata.tags[0]',
      /got "a,b"/,
    ],
    [
      'bad output type',
      notebook([code('a', '', { outputs: [{}, { output_type: 'foo' }] })]),
      'cells[0].outputs[0].output_type',
      'cells[0].outputs[0].output_type: expected one of stream, display_data, execute_result, error; got nothing (missing)',
    ],
    [
      'bad output type later',
      notebook([markdown('m', ''), code('a', '', { outputs: [stream, { output_type: 'foo' }] })]),
      'cells[1].outputs[1].output_type',
      'cells[1].outputs[1].output_type: expected one of stream, display_data, execute_result, error; got "foo"',
    ],
    [
      'stream without text',
      notebook([code('a', '', { outputs: [{ output_type: 'stream', name: 'stdout' }] })]),
      'cells[0].outputs[0].text',
      /expected a string or an array of strings/,
    ],
    [
      'display_data without metadata',
      notebook([code('a', '', { outputs: [{ output_type: 'display_data', data: {} }] })]),
      'cells[0].outputs[0].metadata',
      /expected an object; got nothing/,
    ],
    [
      'execute_result without execution_count',
      notebook([
        code('a', '', { outputs: [{ output_type: 'execute_result', data: {}, metadata: {} }] }),
      ]),
      'cells[0].outputs[0].execution_count',
      /got nothing/,
    ],
    [
      'text mime data a number',
      notebook([
        code('a', '', {
          outputs: [{ output_type: 'display_data', data: { 'text/plain': 5 }, metadata: {} }],
        }),
      ]),
      'cells[0].outputs[0].data["text/plain"]',
      /expected a string or an array of strings; got 5/,
    ],
    [
      'error traceback not strings',
      notebook([
        code('a', '', {
          outputs: [{ output_type: 'error', ename: 'E', evalue: '', traceback: [null] }],
        }),
      ]),
      'cells[0].outputs[0].traceback[0]',
      /expected a string; got null/,
    ],
    [
      'cell id with a space',
      notebook([code('has space', '')]),
      'cells[0].id',
      /expected 1 to 64 characters/,
    ],
    [
      'cell id too long',
      notebook([code('a'.repeat(65), '')]),
      'cells[0].id',
      /expected 1 to 64 characters/,
    ],
    [
      'attachments on a code cell',
      notebook([code('a', '', { attachments: {} })]),
      'cells[0].attachments',
      /no such property/,
    ],
    [
      'kernelspec without display_name',
      notebook([], { kernelspec: { name: 'python3' } }),
      'metadata.kernelspec.display_name',
      /expected a string; got nothing/,
    ],
    [
      'transient in a file (kernel protocol only)',
      notebook([
        code('a', '', {
          outputs: [{ output_type: 'display_data', data: {}, metadata: {}, transient: {} }],
        }),
      ]),
      'cells[0].outputs[0].transient',
      /no such property/,
    ],
  ];
  for (const [name, json, path, message] of cases) {
    test(name, () => expectFormatError(() => readNotebook(json), path, message));
  }
});

describe('parseNotebook', () => {
  test('invalid JSON reports line and column', () => {
    assert.throws(
      () => parseNotebook('{\n "cells": [\n  1,,\n ]\n}'),
      (error: unknown) => {
        assert.ok(error instanceof NotebookFormatError);
        assert.equal(error.line, 3);
        assert.equal(error.column, 5);
        assert.match(error.message, /^invalid JSON at line 3, column 5: /);
        return true;
      },
    );
  });

  test('content after the document is an error too', () => {
    assert.throws(
      () => parseNotebook('{}\n}'),
      /invalid JSON at line 2, column 1: unexpected content/,
    );
  });

  test('truncated JSON points at the end', () => {
    assert.throws(
      () => parseNotebook('{\n "cells": ['),
      (error: unknown) => error instanceof NotebookFormatError && error.line === 2,
    );
  });

  test('accepts a byte order mark and joins multiline arrays', () => {
    const text = `\uFEFF${JSON.stringify(notebook([code('a', ['x = 1\n', 'y = 2'])]))}`;
    assert.equal(parseNotebook(text).cells[0]?.source, 'x = 1\ny = 2');
  });

  test('keeps unknown metadata and drops transient keys', () => {
    const nb = readNotebook(
      notebook([code('a', '', { metadata: { trusted: true, custom: { deep: [1] } } })], {
        signature: 'sha256:x',
        mine: { a: 1 },
      }),
    );
    assert.deepEqual(nb.metadata.mine, { a: 1 });
    assert.equal(nb.metadata.signature, undefined);
    assert.deepEqual(nb.cells[0]?.metadata, { custom: { deep: [1] } });
  });

  test('does not mutate the parsed value it is given', () => {
    const json = notebook([code('a', ['x\n', 'y'])]);
    const before = structuredClone(json);
    readNotebook(json);
    assert.deepEqual(json, before);
  });

  test('accepts nbformat 4.0 to 4.5', () => {
    for (const minor of [0, 1, 2, 3, 4]) {
      const json = notebook([{ cell_type: 'markdown', metadata: {}, source: '' }], {}, minor);
      assert.equal(readNotebook(json).nbformat_minor, minor);
    }
  });
});

describe('cell ids', () => {
  test('4.5: missing and duplicate ids are repaired deterministically, good ids kept', () => {
    const json = notebook([
      code('keep-me', 'a'),
      { cell_type: 'markdown', metadata: {}, source: 'b' },
      code('keep-me', 'c'),
    ]);
    const first = readNotebook(json);
    const second = readNotebook(json);
    assert.equal(first.cells[0]?.id, 'keep-me');
    assert.match(first.cells[1]?.id ?? '', /^[0-9a-f]{8}$/);
    assert.match(first.cells[2]?.id ?? '', /^[0-9a-f]{8}$/);
    assert.notEqual(first.cells[1]?.id, first.cells[2]?.id);
    assert.deepEqual(first, second, 'same input, same ids');
    assert.doesNotThrow(() => validateNotebook(first));
  });

  test('4.0-4.4 stay without ids (ids are invalid there); stray ids are stripped', () => {
    const nb = readNotebook(notebook([code('stray', '')], {}, 4));
    assert.equal(nb.cells[0]?.id, undefined);
    assert.doesNotThrow(() => validateNotebook(nb));
  });

  test('upgrade to 4.5 gives every cell an id, as nbformat.v4.upgrade does', () => {
    const nb = readNotebook(notebook([code('x', ''), code('y', '')], {}, 4));
    const upgraded = upgradeToCurrentMinor(nb);
    assert.equal(upgraded.nbformat_minor, 5);
    assert.equal(new Set(upgraded.cells.map((cell) => cell.id)).size, 2);
    assert.doesNotThrow(() => validateNotebook(upgraded));
    assert.equal(nb.nbformat_minor, 4, 'input untouched');
  });

  test('strict validation: duplicates and missing ids on 4.5 are errors', () => {
    expectFormatError(
      () => validateNotebook(notebook([code('a', ''), code('a', '')])),
      'cells[1].id',
      'cells[1].id: expected an id unique in the notebook; got "a"',
    );
    const missing = notebook([{ cell_type: 'raw', metadata: {}, source: '' }]);
    expectFormatError(() => validateNotebook(missing), 'cells[0].id', /required from 4.5/);
  });

  test('ensureCellIds returns the same object when nothing needs fixing', () => {
    const nb = readNotebook(notebook([code('a', '')]));
    assert.equal(ensureCellIds(nb), nb);
  });
});
