/** Cell errors with papermill's semantics: banners, statuses, SystemExit, raises-exception. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CellMetadata, Notebook } from '@nes/notebook';
import { ERROR_ANCHOR_MARKDOWN, ERROR_MARKER_TAG, errorMessageMarkdown } from '@nes/notebook';
import { prepareRun } from '../src/prepare-run.ts';
import { code, markdown, notebook } from './support/notebooks.ts';
import { codeCell, joined, runCells } from './support/run.ts';
import { sharedServer } from './support/server.ts';

const server = sharedServer();

function statuses(nb: Notebook): Array<string | undefined> {
  return nb.cells.map((cell) => (cell.metadata as CellMetadata).papermill?.status);
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/;

describe('cell errors', () => {
  test('an error stops the run: banners, partial output, later cells pending', async () => {
    const { result, saved, events } = await runCells(
      [
        markdown('# Title'),
        code("x = 1\nprint('before')"),
        code("print('partial', flush=True)\nraise ValueError('bad value')"),
        code("print('never')"),
        markdown('tail'),
      ],
      { server: server() },
    );
    assert.equal(result.status, 'failed');
    assert.deepEqual(result.error, {
      class: 'cell_error',
      ename: 'ValueError',
      evalue: 'bad value',
      cellIndex: 4,
      cellNumber: 2, // the author's second code cell
    });
    assert.equal(result.cellsTotal, 3);
    assert.equal(result.cellsDone, 2);

    // Top banner, the cells, the anchor just before the failed cell.
    assert.equal(saved.cells.length, 7);
    assert.deepEqual(saved.cells[0], {
      cell_type: 'markdown',
      id: saved.cells[0]?.id,
      metadata: { tags: [ERROR_MARKER_TAG] },
      source: [errorMessageMarkdown(2)],
    });
    assert.equal(
      joined(saved.cells[0]?.source ?? ''),
      `<span style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">An Exception was encountered at '<a href="#papermill-error-cell">In [2]</a>'.</span>`,
    );
    assert.equal(joined(saved.cells[3]?.source ?? ''), ERROR_ANCHOR_MARKDOWN);
    assert.deepEqual(saved.cells[3]?.metadata, { tags: [ERROR_MARKER_TAG] });

    const failed = codeCell(saved, 4);
    assert.equal(failed.execution_count, 2);
    assert.equal(failed.outputs[0]?.output_type, 'stream');
    assert.equal(joined((failed.outputs[0] as { text: string }).text), 'partial\n');
    const error = failed.outputs[1];
    assert.equal(error?.output_type, 'error');
    if (error?.output_type === 'error') {
      assert.equal(error.ename, 'ValueError');
      assert.equal(error.evalue, 'bad value');
      assert.ok(error.traceback.some((line) => line.includes('bad value')));
    }
    assert.deepEqual(
      failed.metadata.papermill && {
        status: failed.metadata.papermill.status,
        exception: failed.metadata.papermill.exception,
      },
      { status: 'failed', exception: true },
    );

    const never = codeCell(saved, 5);
    assert.equal(never.execution_count, null);
    assert.deepEqual(never.outputs, []);
    assert.deepEqual(never.metadata.papermill, {
      status: 'pending',
      start_time: null,
      end_time: null,
      duration: null,
      exception: null,
    });
    assert.deepEqual(statuses(saved), [
      undefined,
      'completed',
      'completed',
      undefined,
      'failed',
      'pending',
      'pending',
    ]);
    const record = saved.metadata.papermill;
    assert.equal(record?.exception, true);
    assert.match(String(record?.start_time), TIMESTAMP);
    assert.match(String(record?.end_time), TIMESTAMP);
    assert.equal(typeof record?.duration, 'number');
    assert.deepEqual(
      events
        .filter((e) => e.type === 'cell_finished')
        .map((e) => e.type === 'cell_finished' && e.status),
      ['completed', 'failed'],
    );
  });

  test('SystemExit(0) stops the notebook and succeeds, as in papermill', async () => {
    const { result, saved } = await runCells(
      [code('1 + 1'), code('raise SystemExit(0)'), code("print('never')")],
      { server: server() },
    );
    assert.equal(result.status, 'succeeded');
    assert.equal(result.error, null);
    assert.equal(saved.cells.length, 3, 'no banner');
    const exit = codeCell(saved, 1);
    assert.equal(exit.execution_count, 2);
    const error = exit.outputs.find((o) => o.output_type === 'error');
    assert.equal(
      error?.output_type === 'error' && `${error.ename}:${error.evalue}`,
      'SystemExit:0',
    );
    assert.equal(exit.metadata.papermill?.status, 'failed');
    assert.equal(codeCell(saved, 2).execution_count, null);
    assert.deepEqual(statuses(saved), ['completed', 'failed', 'pending']);
  });

  test('sys.exit() without a code succeeds too; SystemExit(1) fails with a banner', async () => {
    const zero = await runCells([code('import sys\nsys.exit()'), code('2')], { server: server() });
    assert.equal(zero.result.status, 'succeeded');
    assert.equal(codeCell(zero.saved, 1).execution_count, null);

    const one = await runCells([code('import sys\nsys.exit(1)'), code('2')], { server: server() });
    assert.equal(one.result.status, 'failed');
    assert.deepEqual(one.result.error, {
      class: 'cell_error',
      ename: 'SystemExit',
      evalue: '1',
      cellIndex: 2,
      cellNumber: 1,
    });
    assert.equal(joined(one.saved.cells[0]?.source ?? ''), errorMessageMarkdown(1));
    assert.equal(codeCell(one.saved, 3).execution_count, null);
  });

  test('an error in a cell tagged raises-exception is expected: the run goes on', async () => {
    const { result, saved } = await runCells(
      [code('1 / 0', ['raises-exception']), code("print('went on')")],
      { server: server() },
    );
    assert.equal(result.status, 'succeeded');
    const expected = codeCell(saved, 0);
    assert.equal(expected.outputs[0]?.output_type, 'error');
    assert.equal(expected.metadata.papermill?.status, 'completed');
    assert.deepEqual(codeCell(saved, 1).outputs, [
      { output_type: 'stream', name: 'stdout', text: ['went on\n'] },
    ]);
  });

  test('input() fails at once instead of waiting for an answer', async () => {
    const { result, elapsedMs } = await runCells([code("name = input('name? ')")], {
      server: server(),
      cellTimeoutMs: 60_000,
    });
    // Waiting for an answer would end in the 60 s timeout (timed_out), not this error.
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.class, 'cell_error');
    assert.equal(result.error?.ename, 'StdinNotImplementedError');
    assert.ok(elapsedMs < 30_000, `took ${elapsedMs} ms`);
  });

  test('report mode hides inputs; the run record and kernel timings are written', async () => {
    // The record and report mode come from the preparation, done once before the engine.
    const prepared = prepareRun(
      notebook([markdown('m'), code('a = 1')]),
      { uri: 'in.ipynb', ref: null, commitSha: null, pinnedUri: 'in.ipynb' },
      { parameters: {}, reportMode: true, outputPath: 'out.ipynb', warn: () => {} },
    );
    const record = prepared.metadata.papermill ?? {};
    assert.deepEqual([record.input_path, record.output_path], ['in.ipynb', 'out.ipynb']);
    const { saved } = await runCells([], { server: server(), notebook: prepared });
    const cell = codeCell(saved, 1);
    assert.deepEqual(cell.metadata.jupyter, { source_hidden: true });
    assert.equal(saved.cells[0]?.metadata.jupyter, undefined);
    const papermill = saved.metadata.papermill ?? {};
    for (const [key, value] of Object.entries(record)) assert.deepEqual(papermill[key], value);
    assert.equal(papermill.exception, null);
    assert.equal(saved.metadata.language_info?.name, 'python');
    const execution = cell.metadata.execution as Record<string, string>;
    assert.deepEqual(Object.keys(execution).sort(), [
      'iopub.execute_input',
      'iopub.status.busy',
      'iopub.status.idle',
      'shell.execute_reply',
    ]);
    for (const stamp of Object.values(execution)) {
      assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    }
    const timing = cell.metadata.papermill;
    assert.match(String(timing?.start_time), TIMESTAMP);
    assert.equal(typeof timing?.duration, 'number');
  });
});
