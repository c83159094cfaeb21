/**
 * Results: `import nes` in a real python3 kernel (nes.record, nes.exit, caps and their errors),
 * scrapbook's and papermill's output formats read as results, and nes-run --results-file and
 * the manifest.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Notebook, Output } from '@nes/notebook';
import { collectResults, RESULT_LIMITS, resultValues } from '../src/results.ts';
import { type Json, nesRun, tempDir, writeNotebook } from './cli-helpers.ts';
import { code, notebook } from './support/notebooks.ts';
import { codeCell, runCells } from './support/run.ts';
import { sharedServer } from './support/server.ts';

const server = sharedServer();

function withOutputs(...cells: Output[][]): Notebook {
  const nb = notebook(cells.map(() => code('x')));
  cells.forEach((outputs, i) => {
    codeCell(nb, i).outputs = outputs;
  });
  return nb;
}

function display(data: Record<string, unknown>, metadata: Record<string, unknown> = {}): Output {
  return { output_type: 'display_data', data, metadata } as Output;
}

describe('collectResults: the output formats', () => {
  test("scrapbook's json and text scraps are values; a later glue of a name replaces it", () => {
    const scrap = (name: string, data: unknown, encoder = 'json') =>
      display(
        {
          [`application/scrapbook.scrap.${encoder}+json`]: {
            name,
            data,
            encoder,
            store: 'notebook',
            version: 2,
          },
        },
        { scrapbook: { name, data: true, display: false } },
      );
    const results = collectResults(
      withOutputs(
        [scrap('a', [1, 2]), scrap('b', 'text', 'text')],
        [scrap('a', { x: 1 }), scrap('df', 'UEFSMQ==', 'arrow')],
      ),
    );
    assert.deepEqual(resultValues(results), { a: { x: 1 }, b: 'text' });
    const a = results.results.find((r) => r.name === 'a');
    assert.deepEqual([a?.cellIndex, a?.outputIndex], [1, 0]);
    const df = results.results.find((r) => r.name === 'df');
    assert.deepEqual(df, {
      name: 'df',
      kind: 'encoded',
      encoder: 'arrow',
      cellIndex: 1,
      outputIndex: 1,
    });
  });

  test("display scraps, papermill's record and display are kept; other outputs are not results", () => {
    const results = collectResults(
      withOutputs([
        display(
          { 'text/html': '<table/>', 'text/plain': 'df' },
          { scrapbook: { name: 'table', data: false, display: true } },
        ),
        display({ 'application/papermill.record+json': { old: 42 } }),
        display({ 'image/png': 'iVBOR' }, { papermill: { name: 'plot' } }),
        display({ 'text/plain': 'not a result' }),
        { output_type: 'stream', name: 'stdout', text: 'x' } as Output,
      ]),
    );
    assert.deepEqual(
      results.results.map((r) => [r.name, r.kind, r.mimeTypes ?? r.value]),
      [
        ['table', 'display', ['text/html', 'text/plain']],
        ['old', 'value', 42],
        ['plot', 'display', ['image/png']],
      ],
    );
  });

  test('a value over the cap keeps its reference and says why; past the totals results drop', () => {
    const big = 'x'.repeat(RESULT_LIMITS.valueBytes + 10);
    const results = collectResults(
      withOutputs([
        display({ 'application/papermill.record+json': { big } }),
        display({ 'application/papermill.record+json': { small: 1 } }),
      ]),
    );
    const kept = results.results.find((r) => r.name === 'big');
    assert.equal(kept?.value, undefined);
    assert.match(kept?.omitted ?? '', /bytes as JSON; the limit is 65536/);
    assert.deepEqual(resultValues(results), { small: 1 });

    const many = Array.from({ length: 20 }, (_, i) =>
      display({ 'application/papermill.record+json': { [`v${i}`]: 'y'.repeat(60_000) } }),
    );
    const capped = collectResults(withOutputs(many));
    assert.ok(capped.dropped.length > 0, 'past 1 MiB in total, later results are dropped');
    const total = capped.results.reduce((n, r) => n + JSON.stringify(r.value).length, 0);
    assert.ok(total <= RESULT_LIMITS.totalBytes);
  });
});

describe('the nes module in a real kernel', () => {
  test('nes.record keeps JSON values, numpy-like scalars and figures; bad values raise ResultError naming the problem', async () => {
    const { result, saved } = await runCells(
      [
        code(
          [
            'import nes, datetime',
            "nes.record('rows_loaded', 1234)",
            "nes.record('summary', {'p95': 0.93, 'ok': True, 'none': None})",
            "nes.record('when', datetime.date(2026, 12, 6))",
          ].join('\n'),
        ),
        code(
          [
            'import matplotlib',
            "matplotlib.use('agg')",
            'import matplotlib.pyplot as plt',
            'fig, ax = plt.subplots()',
            'ax.plot([1, 2, 3])',
            "nes.record('chart', fig)",
            'plt.close(fig)',
          ].join('\n'),
        ),
        code(
          [
            'errors = []',
            "for name, value in [('nan', float('nan')), ('obj', object()), ('big', 'x' * 70000), ('', 1)]:",
            '    try:',
            '        nes.record(name, value)',
            '    except nes.ResultError as e:',
            '        errors.append(str(e))',
            "nes.record('errors', errors)",
          ].join('\n'),
        ),
      ],
      { server: server() },
    );
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    const results = collectResults(saved);
    const values = resultValues(results);
    assert.equal(values.rows_loaded, 1234);
    assert.deepEqual(values.summary, { p95: 0.93, ok: true, none: null });
    assert.equal(values.when, '2026-12-06');
    const chart = results.results.find((r) => r.name === 'chart');
    assert.equal(chart?.kind, 'display');
    assert.ok(chart?.mimeTypes?.includes('image/png'), 'the figure is kept as its PNG display');
    const errors = values.errors as string[];
    assert.match(errors[0] ?? '', /NaN and infinity have no JSON form/);
    assert.match(
      errors[1] ?? '',
      /nes\.record\('obj'\): a object is neither JSON .* nor displayable/,
    );
    assert.match(
      errors[2] ?? '',
      /nes\.record\('big'\): the value is 70002 bytes as JSON; the limit is 65536/,
    );
    assert.match(errors[3] ?? '', /a result name must be a non-empty string/);
  });

  test('nes.exit ends the run successfully: the rest of the cell and later cells do not run', async () => {
    const { result, saved, events } = await runCells(
      [
        code("import nes\nnes.record('before', 1)"),
        code("print('ran')\nnes.exit({'reason': 'no new data'})\nprint('not printed')"),
        code("print('never')"),
      ],
      { server: server() },
    );
    assert.equal(result.status, 'succeeded');
    assert.equal(result.error, null);
    assert.equal(result.cellsDone, 2, 'the cells after the exit did not run');
    const exiting = codeCell(saved, 1);
    assert.equal(exiting.metadata.papermill?.status, 'completed');
    assert.equal(exiting.execution_count, 2);
    assert.deepEqual(
      exiting.outputs.map((o) => o.output_type),
      ['stream', 'display_data'],
      'no traceback, nothing after the call',
    );
    const later = codeCell(saved, 2);
    assert.equal(later.metadata.papermill?.status, 'pending');
    assert.equal(later.execution_count, null);
    assert.deepEqual(later.outputs, []);
    assert.notEqual(saved.metadata.papermill?.exception, true);
    assert.deepEqual((saved.metadata.nes as Json).exit, { cellIndex: 1 });
    assert.equal(saved.cells.length, 3, 'no error banner');
    const results = collectResults(saved);
    assert.deepEqual(results.exit, { value: { reason: 'no new data' }, cellIndex: 1 });
    assert.deepEqual(resultValues(results), { before: 1 });
    assert.equal(events.filter((e) => e.type === 'cell_started').length, 2);
  });

  test('a NesExit raised by user code without nes.exit is an ordinary failure', async () => {
    const { result } = await runCells(
      [code('class NesExit(Exception):\n    pass\nraise NesExit("mine")')],
      { server: server() },
    );
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.ename, 'NesExit');
  });
});

describe('nes-run --results-file and the manifest', () => {
  test('the results file and the manifest carry the values and the exit value', async () => {
    const dir = tempDir();
    const input = writeNotebook(join(dir, 'in.ipynb'), [
      "import nes\nnes.record('rows', 7)",
      "nes.exit('early')",
      "raise ValueError('never runs')",
    ]);
    const resultsFile = join(dir, 'results.json');
    const run = await nesRun([
      input,
      '--store',
      join(dir, 'store'),
      '--run-id',
      'r1',
      '--results-file',
      resultsFile,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const written = JSON.parse(readFileSync(resultsFile, 'utf8')) as Json;
    assert.equal(written.runId, 'r1');
    assert.equal(written.status, 'succeeded');
    assert.deepEqual(written.values, { rows: 7 });
    assert.deepEqual(written.exit, { value: 'early', cellIndex: 1 });
    const manifest = JSON.parse(
      readFileSync(join(dir, 'store/runs/r1/manifest.json'), 'utf8'),
    ) as Json;
    assert.deepEqual(manifest.results.values, { rows: 7 });
    assert.equal(manifest.results.exit.value, 'early');
  });

  test('a run that never executed still writes the file, with no results', async () => {
    const dir = tempDir();
    const resultsFile = join(dir, 'results.json');
    const run = await nesRun([
      join(dir, 'missing.ipynb'),
      join(dir, 'out.ipynb'),
      '--results-file',
      resultsFile,
    ]);
    assert.equal(run.code, 3);
    const written = JSON.parse(readFileSync(resultsFile, 'utf8')) as Json;
    assert.equal(written.status, 'failed');
    assert.deepEqual(written.values, {});
    assert.equal(written.exit, null);
  });
});
