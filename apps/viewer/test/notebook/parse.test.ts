import { describe, expect, it } from 'vitest';
import { NotebookParseError, parseNotebook } from '../../src/notebook/index.ts';

function parseError(text: string): NotebookParseError {
  try {
    parseNotebook(text);
  } catch (error) {
    if (error instanceof NotebookParseError) return error;
    throw error;
  }
  throw new Error('parseNotebook accepted bad input');
}

const cells = (list: unknown[]) =>
  JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: list });

describe('parseNotebook', () => {
  it('parses an nbformat 4 notebook and fills in missing metadata', () => {
    const nb = parseNotebook(
      JSON.stringify({
        nbformat: 4,
        cells: [
          { cell_type: 'markdown', source: ['# Title\n', 'text'] },
          {
            cell_type: 'code',
            source: 'print(1)',
            outputs: [{ output_type: 'stream', name: 'stdout', text: '1\n' }],
          },
        ],
      }),
    );
    expect(nb.cells).toHaveLength(2);
    expect(nb.metadata).toEqual({});
    expect(nb.nbformat_minor).toBe(0);
    expect(nb.cells.map((cell) => cell.metadata)).toEqual([{}, {}]);
  });

  it.each([
    ['not JSON', '{"nbformat": 4,', /^not JSON/, ''],
    ['not an object', '[1, 2]', /not a notebook/, ''],
    [
      'nbformat 3',
      '{"nbformat": 3, "worksheets": []}',
      /not an nbformat 4 notebook \(nbformat 3\)/,
      '',
    ],
    ['no nbformat', '{"cells": []}', /not an nbformat 4 notebook \(no nbformat field\)/, ''],
    ['cells not a list', '{"nbformat": 4, "cells": {}}', /must be a list/, 'cells'],
    [
      'a bad cell type',
      cells([
        { cell_type: 'markdown', source: '' },
        { cell_type: 'heading', source: '' },
      ]),
      /unknown cell_type "heading"/,
      'cells[1].cell_type',
    ],
    [
      'a bad source',
      cells([{ cell_type: 'code', source: 3, outputs: [] }]),
      /string or a list of strings/,
      'cells[0].source',
    ],
    [
      'code without outputs',
      cells([{ cell_type: 'code', source: '' }]),
      /must be a list/,
      'cells[0].outputs',
    ],
    [
      'a bad output type',
      cells([{ cell_type: 'code', source: '', outputs: [{ output_type: 'pyout' }] }]),
      /unknown output_type "pyout"/,
      'cells[0].outputs[0].output_type',
    ],
    [
      'display data without data',
      cells([{ cell_type: 'code', source: '', outputs: [{ output_type: 'display_data' }] }]),
      /keyed by MIME type/,
      'cells[0].outputs[0].data',
    ],
    [
      'a stream without text',
      cells([
        { cell_type: 'code', source: '', outputs: [{ output_type: 'stream', name: 'stdout' }] },
      ]),
      /string or a list of strings/,
      'cells[0].outputs[0].text',
    ],
  ])('rejects %s, naming what is wrong', (_, text, message, path) => {
    const error = parseError(text);
    expect(error.message).toMatch(message);
    expect(error.path).toBe(path);
    if (path) expect(error.message.startsWith(`${path}: `)).toBe(true);
  });
});
