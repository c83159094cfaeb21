/**
 * nes-run as a papermill drop-in: each case is a notebook, a command line papermill's own tests
 * use, and what papermill's code (execute.py, engines.py, translators.py, iorw.py, cli.py) writes
 * for it. Exit codes differ where docs/runner-cli.md says so (refusals exit 2/3, papermill 1).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

const streamText = (output: Json): string => [output.text].flat().join('');

describe('papermill compatibility: flags and the notebook papermill writes', {
  concurrency: 2,
}, () => {
  test('output path templates with format specs (test_parameterize: {baz:03d}, {baz:.03f})', async () => {
    const input = notebookWith('template', ['n = 0\nf = 0.0', 'print(n, f)']);
    const r = await nesRun([
      input,
      join(dir, 'template-{n:03d}-{f:.03f}-{label:>6}.ipynb'),
      '-p',
      'n',
      '7',
      '-p',
      'f',
      '0.3',
      '-p',
      'label',
      'x',
      '--prepare-only',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'template-007-0.300-     x.ipynb')), r.stderr);
  });

  test('without parameters: nbformat 4.5 with cell ids, papermill record with version, tags [] and papermill {} on cells under --prepare-only', async () => {
    const path = join(dir, 'v44.ipynb');
    writeFileSync(
      path,
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 4,
        metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
        cells: [
          { cell_type: 'markdown', metadata: {}, source: '# Title' },
          { cell_type: 'code', metadata: {}, source: 'x = 1', outputs: [], execution_count: null },
        ],
      }),
    );
    const out = join(dir, 'v44-out.ipynb');
    const r = await nesRun([path, out, '--prepare-only']);
    assert.equal(r.code, 0, r.stderr);
    const nb = read(out);
    assert.equal(nb.nbformat_minor, 5);
    for (const cell of nb.cells) {
      assert.match(cell.id, /^[0-9a-f]{8}$/);
      assert.deepEqual(cell.metadata, { papermill: {}, tags: [] });
    }
    // load_notebook_node's record, then prepare_notebook_metadata's paths.
    assert.deepEqual(nb.metadata.papermill, {
      default_parameters: {},
      environment_variables: {},
      input_path: path,
      output_path: out,
      parameters: {},
      version: '2.6.0',
    });
  });

  test('an input that already has a papermill record keeps it: no default_parameters added', async () => {
    const path = join(dir, 'recorded.ipynb');
    const nb0 = JSON.parse(readText(notebookWith('recorded-src', ['x = 1'])));
    nb0.metadata.papermill = { parameters: { x: 2 } };
    writeFileSync(path, JSON.stringify(nb0));
    const out = join(dir, 'recorded-out.ipynb');
    const r = await nesRun([path, out, '--prepare-only']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(read(out).metadata.papermill).sort(), [
      'input_path',
      'output_path',
      'parameters',
    ]);
  });

  test('--log-output: Executing/Ending Cell markers for every cell, each chunk then a line break; chunks stored apart', async () => {
    const path = join(dir, 'logged.ipynb');
    const nb0 = JSON.parse(
      readText(
        notebookWith('logged-src', [
          'x = 1',
          'import sys, time\nprint("a")\nsys.stdout.flush()\ntime.sleep(0.3)\nprint("b")\nx',
        ]),
      ),
    );
    nb0.cells.unshift({ cell_type: 'markdown', id: 'md', metadata: {}, source: '# T' });
    writeFileSync(path, JSON.stringify(nb0));
    const out = join(dir, 'logged-out.ipynb');
    const r = await nesRun([path, out, '--log-output', '-p', 'x', '3']);
    assert.equal(r.code, 0, r.stderr);
    const dashes = (n: number) => '-'.repeat(n);
    const expected = [
      `Executing Cell 1${dashes(39)}`,
      `Ending Cell 1${dashes(42)}`,
      `Executing Cell 2${dashes(39)}`,
      `Ending Cell 2${dashes(42)}`,
      `Executing Cell 3${dashes(39)}`,
      `Ending Cell 3${dashes(42)}`,
      `Executing Cell 4${dashes(39)}`,
      'a',
      '',
      'b',
      '',
      '3',
      `Ending Cell 4${dashes(42)}`,
    ].join('\n');
    assert.ok(r.stderr.includes(expected), r.stderr);
    const outputs = read(out).cells[3].outputs;
    assert.deepEqual(
      outputs.map((o: Json) => (o.output_type === 'stream' ? streamText(o) : o.output_type)),
      ['a\n', 'b\n', 'execute_result'],
      'nbclient keeps each stream message as its own output',
    );
  });

  test("the kernel's PATH is the caller's, as under papermill: !python reaches the user's python", async () => {
    const input = notebookWith('path', [
      'x = 1',
      'import os, shutil\nprint(os.environ["PATH"])\nprint(shutil.which("python3"))',
    ]);
    const out = join(dir, 'path-out.ipynb');
    const userPath = '/usr/local/bin:/usr/bin:/bin';
    const r = await nesRun([input, out], { env: { PATH: userPath } });
    assert.equal(r.code, 0, r.stderr);
    const [path, python] = streamText(read(out).cells[1].outputs[0]).split('\n');
    assert.ok(path?.startsWith(`${userPath}`), path);
    const expected = spawnSync('sh', ['-c', 'command -v python3'], { env: { PATH: userPath } });
    assert.equal(python, expected.stdout.toString().trim());
  });

  test('--autosave-cell-every 1 saves about every second during a long cell', async () => {
    const input = notebookWith('autosave', [
      'x = 1',
      'import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.5)',
    ]);
    const out = join(dir, 'autosave-out.ipynb');
    const r = await nesRun([input, out, '--autosave-cell-every', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const started = events.findIndex((e) => e.type === 'cell_started' && e.cellIndex === 1);
    const finished = events.findIndex((e) => e.type === 'cell_finished' && e.cellIndex === 1);
    const during = events.slice(started, finished).filter((e) => e.type === 'saved');
    // A 3 s cell: the default (5 s interval) saves at most once; papermill saved ~every 1.2 s.
    assert.ok(during.length >= 2, `saves during the cell: ${during.length}`);
  });
});

describe("papermill compatibility: --help-notebook on papermill's inspection notebooks", () => {
  const complexSource = [
    'msg = None\n',
    'a: float = 2.25 # Variable a\n',
    'b = [\n',
    "    'Hello', # First element\n",
    '# Dummy comment\n',
    "    'World'\n",
    '] # type: List[str] Nice list\n',
    '\n',
    '# Interesting c variable\n',
    'c: "NoneType" = None\n',
    '# Not introspectable line\n',
    'd = a == 3\n',
    '# Broken name definition\n',
    '= 2',
  ].join('');

  function inspectionNotebook(name: string, source: string, kernelspec: Json): string {
    const path = join(dir, `${name}.ipynb`);
    writeFileSync(
      path,
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 4,
        metadata: { kernelspec },
        cells: [
          {
            cell_type: 'code',
            metadata: { tags: ['parameters'] },
            source,
            outputs: [],
            execution_count: null,
          },
        ],
      }),
    );
    return path;
  }

  test('complex_parameters.ipynb: msg, a, b, c (a line with two = is skipped, as papermill does)', async () => {
    const path = inspectionNotebook('complex_parameters', complexSource, {
      name: 'python3',
      language: 'python',
      display_name: 'Python 3',
    });
    const r = await nesRun([path, '--help-notebook']);
    assert.equal(r.code, 0, r.stderr);
    // test_inspect.py test_display_notebook_help, line by line after the usage line.
    assert.equal(
      r.stdout.split('\n').slice(1).join('\n'),
      [
        '',
        `Parameters inferred for notebook '${path}':`,
        '  msg: Unknown type (default None)',
        '  a: float (default 2.25)         Variable a',
        "  b: List[str] (default ['Hello','World'])\n                                  Nice list",
        '  c: NoneType (default None)      ',
        '',
      ].join('\n'),
    );
  });

  test('notimplemented_translator.ipynb (R): nothing inferred, as papermill has no R inspector', async () => {
    const path = inspectionNotebook('notimplemented_translator', 'msg = None', {
      name: 'r',
      language: 'R',
      display_name: 'r',
    });
    const r = await nesRun([path, '--help-notebook']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stdout.endsWith(
        "\n\n  Can't infer anything about this notebook's parameters. It may not have any parameter defined.\n",
      ),
      r.stdout,
    );
    assert.doesNotMatch(r.stdout, /msg:/);
  });
});
