import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Notebook } from '../src/nbformat.ts';
import { parseNotebook, readNotebook } from '../src/read.ts';
import { serializeNotebook, serializeNotebookChunks } from '../src/write.ts';
import { WRITER_FIXTURES } from './fixtures.ts';
import { askNbformat, nbformatAvailable } from './nbformat-reference.ts';

describe('serializeNotebook', () => {
  test('matches nbformat.write byte for byte and validates with nbformat', {
    skip: !nbformatAvailable && 'no nbformat venv',
  }, () => {
    const names = Object.keys(WRITER_FIXTURES);
    const inputs = names.map((name) => JSON.stringify(WRITER_FIXTURES[name]));
    const ours = inputs.map((text) => serializeNotebook(parseNotebook(text)));
    const answers = askNbformat([
      ...inputs.map((text) => ({ op: 'rewrite' as const, text })),
      ...ours.map((text) => ({ op: 'validate' as const, text })),
    ]);
    names.forEach((name, index) => {
      const reference = answers[index];
      assert.ok(reference?.ok, `${name}: nbformat could not read it: ${reference?.error}`);
      assert.equal(ours[index], reference.text, `${name}: bytes differ from nbformat`);
      const validation = answers[names.length + index];
      assert.ok(validation?.ok, `${name}: nbformat rejects our output: ${validation?.error}`);
    });
  });

  test('round-trips: read(write(nb)) equals nb', () => {
    for (const [name, fixture] of Object.entries(WRITER_FIXTURES)) {
      const nb = readNotebook(fixture);
      assert.deepEqual(parseNotebook(serializeNotebook(nb)), nb, name);
    }
  });

  test('splits multiline text the way nbformat does', () => {
    const nb = readNotebook(WRITER_FIXTURES.outputs_of_every_type);
    const disk = JSON.parse(serializeNotebook(nb));
    const result = disk.cells[0].outputs[1].data;
    assert.deepEqual(result['text/plain'], ['1\n', '2']);
    assert.deepEqual(result['image/svg+xml'], ['<svg>\n', '</svg>']);
    assert.equal(result['image/png'], 'iVBOR\nw0K', 'base64 images stay one string');
    assert.deepEqual(result['application/json'], { a: ['x\ny'] }, 'JSON data is left alone');
    assert.deepEqual(disk.cells[0].source, ['import x\n', 'x']);
  });

  test('drops transient keys, as nbformat strip_transient does', () => {
    const nb = readNotebook(WRITER_FIXTURES.empty_notebook);
    nb.metadata.orig_nbformat = 3;
    nb.metadata.signature = 'sha256:x';
    const disk = JSON.parse(serializeNotebook(nb));
    assert.equal(disk.metadata.orig_nbformat, undefined);
    assert.equal(disk.metadata.signature, undefined);
  });

  test('non-finite floats are written as nbformat writes them (NaN, Infinity) and read back', {
    skip: !nbformatAvailable && 'no nbformat venv',
  }, () => {
    const nb = readNotebook(WRITER_FIXTURES.empty_notebook);
    nb.metadata.papermill = {
      parameters: { x: Number.POSITIVE_INFINITY, y: Number.NaN, z: Number.NEGATIVE_INFINITY },
    };
    nb.metadata.note = 'NaN and "Infinity" inside strings stay text';
    const ours = serializeNotebook(nb);
    assert.match(ours, /"x": Infinity,\n {4}"y": NaN,\n {4}"z": -Infinity\n/);
    const [reference] = askNbformat([{ op: 'rewrite', text: ours }]);
    assert.ok(reference?.ok, reference?.error);
    assert.equal(ours, reference.text, 'bytes differ from nbformat');
    const back = parseNotebook(ours);
    assert.deepEqual(back.metadata.papermill, nb.metadata.papermill);
    assert.equal(back.metadata.note, nb.metadata.note);
  });

  test('ends with one newline and uses one-space indent', () => {
    const text = serializeNotebook(readNotebook(WRITER_FIXTURES.empty_notebook));
    assert.ok(text.endsWith('}\n'));
    assert.ok(text.startsWith('{\n "cells": [],\n "metadata": {\n  "kernelspec"'));
  });

  test('in pieces: the same bytes, each piece bounded unless it is one long string', () => {
    for (const [name, fixture] of Object.entries(WRITER_FIXTURES)) {
      const nb = readNotebook(fixture);
      assert.equal([...serializeNotebookChunks(nb)].join(''), serializeNotebook(nb), name);
    }
    // 30 outputs of 1 MiB lines and 2,000 short ones: what a chatty cell leaves behind.
    const line = `${'x'.repeat(1024 * 1024 - 1)}\n`;
    const nb: Notebook = {
      ...readNotebook(WRITER_FIXTURES.empty_notebook),
      cells: [
        {
          cell_type: 'code',
          id: 'big',
          source: 'print(...)',
          metadata: { tags: [] },
          execution_count: 1,
          outputs: [
            ...Array.from({ length: 30 }, () => ({
              output_type: 'stream' as const,
              name: 'stdout' as const,
              text: line,
            })),
            ...Array.from({ length: 2000 }, (_, i) => ({
              output_type: 'stream' as const,
              name: 'stderr' as const,
              text: `line ${i}\nand \u00e9\r\n`,
            })),
          ],
        },
      ],
    };
    const pieces = [...serializeNotebookChunks(nb)];
    assert.equal(pieces.join(''), serializeNotebook(nb));
    const longest = Math.max(...pieces.map((piece) => piece.length));
    assert.ok(longest < 1.2 * 1024 * 1024, `longest piece ${longest} characters`);
    assert.ok(pieces.length > 30, `${pieces.length} pieces`);
  });
});
