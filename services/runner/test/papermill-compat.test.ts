/**
 * nes-run as a papermill drop-in: each case is a notebook, a command line papermill's own tests
 * use, and what papermill's code (execute.py, engines.py, translators.py, iorw.py, cli.py) writes
 * for it. Exit codes differ where docs/runner-cli.md says so (refusals exit 2/3, papermill 1).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pythonJsonLoads } from '@nes/notebook';
import { cellSource, type Json, nesRun, tempDir, writeNotebook } from './cli-helpers.ts';

const dir = tempDir();
const readText = (path: string): string => readFileSync(path, 'utf8');
/** Notebooks papermill writes may hold NaN/Infinity (Python's json.dumps): read like json.loads. */
const read = (path: string): Json => pythonJsonLoads(readText(path));

function notebookWith(name: string, sources: string[], kernel = 'python3'): string {
  const path = writeNotebook(join(dir, `${name}.ipynb`), sources, { parameters: true });
  if (kernel !== 'python3') {
    const nb = JSON.parse(readText(path));
    nb.metadata.kernelspec.name = kernel;
    writeFileSync(path, JSON.stringify(nb, null, 1));
  }
  return path;
}

describe('papermill compatibility: failures that must keep the output notebook', {
  concurrency: 2,
}, () => {
  test('a kernel that dies (os._exit) exits 5 with the notebook saved, no dangling await', async () => {
    const input = notebookWith('dies', ['x = 1', 'import os\nos._exit(1)', 'print("after")']);
    const out = join(dir, 'dies-out.ipynb');
    const r = await nesRun([input, out]);
    assert.equal(r.code, 5, r.stderr);
    assert.doesNotMatch(r.stderr, /unsettled top-level await/);
    const nb = read(out);
    assert.equal(nb.metadata.papermill.exception, true);
    const failed = nb.cells.find((c: Json) => c.metadata.papermill?.status === 'failed');
    assert.ok(failed, 'the cell that killed the kernel is marked failed');
    assert.equal(cellSource(failed), 'import os\nos._exit(1)');
    assert.equal(nb.cells.at(-1).metadata.papermill.status, 'pending', 'later cells did not run');
  });

  test('inf, nan and 1e400 from -p and .inf/.nan from -y: injected and recorded like papermill', async () => {
    const input = notebookWith('nonfinite', ['a = 0', 'print(repr((a, b, x, y, z, w)))']);
    const out = join(dir, 'nonfinite-out.ipynb');
    const r = await nesRun([
      input,
      out,
      '-y',
      'a: .inf\nb: .nan',
      '-p',
      'x',
      'inf',
      '-p',
      'y',
      'nan',
      '-p',
      'z',
      '1e400',
      '-p',
      'w',
      '-inf',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const nb = read(out);
    // translators.py PythonTranslator.translate_float, in papermill's merge order.
    assert.equal(
      cellSource(nb.cells[1]),
      "# Parameters\na = float('inf')\nb = float('nan')\nx = float('inf')\ny = float('nan')\nz = float('inf')\nw = float('-inf')\n",
    );
    // nbformat's writer is json.dumps with allow_nan: Python's NaN/Infinity words, sorted keys.
    assert.match(
      readText(out),
      /"parameters": \{\n {4}"a": Infinity,\n {4}"b": NaN,\n {4}"w": -Infinity,\n {4}"x": Infinity,\n {4}"y": NaN,\n {4}"z": Infinity\n {3}\}/,
    );
    assert.equal(nb.metadata.papermill.parameters.w, Number.NEGATIVE_INFINITY);
    const printed = nb.cells[2].outputs.map((o: Json) => [o.text].flat().join('')).join('');
    assert.equal(printed, '(inf, nan, inf, nan, inf, -inf)\n');
  });

  test("kernel name 'python' runs on python3 through jupyter_client's alias", async () => {
    const input = notebookWith(
      'alias',
      ['x = 1', 'import sys\nprint(sys.version_info[0])'],
      'python',
    );
    const out = join(dir, 'alias-out.ipynb');
    const r = await nesRun([input, out, '-p', 'x', '2']);
    assert.equal(r.code, 0, r.stderr);
    const nb = read(out);
    assert.equal(nb.metadata.kernelspec.name, 'python', 'the notebook keeps its kernelspec');
    assert.equal(cellSource(nb.cells[1]), '# Parameters\nx = 2\n');
    assert.equal([nb.cells[2].outputs[0].text].flat().join(''), '3\n');
  });

  test('an unknown kernel still leaves the prepared notebook, as papermill saves before starting it', async () => {
    const input = notebookWith('unknown-kernel', ['x = 1', 'print(x)'], 'no-such-kernel');
    const out = join(dir, 'unknown-kernel-out.ipynb');
    const r = await nesRun([input, out, '-p', 'x', '5']);
    assert.equal(r.code, 2, 'a refusal (papermill exits 1)');
    assert.match(r.stderr, /no such kernel: no-such-kernel/);
    assert.ok(existsSync(out));
    const nb = read(out);
    assert.equal(cellSource(nb.cells[1]), '# Parameters\nx = 5\n');
    // notebook_start then notebook_complete: pending cells completed, times on the notebook.
    for (const cell of nb.cells) {
      assert.equal(cell.metadata.papermill.status, 'completed');
      assert.equal(cell.metadata.papermill.start_time, null);
      assert.deepEqual(cell.outputs, []);
    }
    assert.equal(typeof nb.metadata.papermill.start_time, 'string');
    assert.equal(typeof nb.metadata.papermill.end_time, 'string');
  });
});
