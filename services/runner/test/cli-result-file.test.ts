/**
 * NES_RESULT_FILE: the small JSON result nes-run leaves at exit (a pod's termination message).
 * The format's limits are checked directly; the rest on the real nes-run and python3 kernels.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { buildResult, formatResult, RESULT_FILE_LIMIT } from '@nes/run-contract';
import { cellSource, type Json, nesRun, tempDir, writeNotebook } from './cli-helpers.ts';

const dir = tempDir();
const read = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));
const readResult = read;

describe('result file format', () => {
  test('a huge multi-byte evalue is shortened so the JSON stays within 4096 bytes', () => {
    for (const unit of ['x', 'é', '漢', '😀']) {
      const result = buildResult(
        1,
        {
          status: 'failed',
          error: {
            class: 'cell_error',
            ename: 'E'.repeat(5000),
            evalue: unit.repeat(100_000),
            cellIndex: 3,
          },
          outputUri: `gs://bucket/${'p'.repeat(3000)}/output.ipynb`,
        },
        (text) => text,
      );
      const text = formatResult(result);
      assert.ok(
        Buffer.byteLength(text) <= RESULT_FILE_LIMIT,
        `${unit}: ${Buffer.byteLength(text)}`,
      );
      const parsed = JSON.parse(text);
      assert.equal(parsed.class, 'cell_error');
      assert.equal(parsed.cellIndex, 3);
      assert.equal(parsed.exitCode, 1);
      assert.ok(parsed.evalue.startsWith(unit));
    }
  });

  test('text is redacted, and the exit code wins over an earlier success', () => {
    const result = buildResult(
      7,
      { status: 'succeeded', error: null, message: 'cannot write with hunter2-secret' },
      (text) => text.replaceAll('hunter2-secret', '***'),
    );
    assert.equal(result.status, 'failed');
    assert.equal(result.class, 'infra');
    assert.equal(result.evalue, 'cannot write with ***');
  });
});

describe('nes-run with NES_RESULT_FILE', { concurrency: 2 }, () => {
  test('a failing cell: class, ename, evalue, cellIndex, progress and output, no secret', async () => {
    const input = writeNotebook(
      join(dir, 'fails.ipynb'),
      ['api_token = "none"', 'x = 1', 'raise ValueError("bad value " + api_token)', 'y = 2'],
      { parameters: true },
    );
    const out = join(dir, 'fails-out.ipynb');
    const file = join(dir, 'fails.result.json');
    const r = await nesRun([input, out, '-p', 'api_token', 'sekrit-value-123'], {
      env: { NES_RESULT_FILE: file },
    });
    assert.equal(r.code, 1, r.stderr);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes('sekrit-value-123'), text);
    const result = readResult(file);
    assert.equal(result.v, 1);
    assert.equal(result.status, 'failed');
    assert.equal(result.class, 'cell_error');
    assert.equal(result.ename, 'ValueError');
    assert.match(result.evalue, /^bad value \*\*\*/);
    // An index into the output notebook (papermill's error markers included).
    const failing = read(out).cells[result.cellIndex];
    assert.match(cellSource(failing), /raise ValueError/);
    // The author's number: the third code cell (papermill's injected cell is not counted).
    assert.equal(result.cellNumber, 3);
    assert.equal(result.cellsTotal, 5);
    assert.equal(result.cellsDone, 4);
    assert.equal(result.exitCode, 1);
    assert.equal(result.outputUri, pathToFileURL(out).href);
    assert.ok(existsSync(out));
  });

  test('a successful run', async () => {
    const input = writeNotebook(join(dir, 'ok.ipynb'), ['print(1)', 'print(2)']);
    const file = join(dir, 'ok.result.json');
    const r = await nesRun([input, join(dir, 'ok-out.ipynb')], { env: { NES_RESULT_FILE: file } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readResult(file), {
      v: 1,
      status: 'succeeded',
      class: null,
      ename: null,
      evalue: null,
      cellIndex: null,
      cellNumber: null,
      cellsDone: 2,
      cellsTotal: 2,
      outputUri: pathToFileURL(join(dir, 'ok-out.ipynb')).href,
      exitCode: 0,
    });
  });

  test('an error before anything runs (missing input) is still written', async () => {
    const file = join(dir, 'missing.result.json');
    writeFileSync(file, 'stale');
    const r = await nesRun([join(dir, 'nope.ipynb'), join(dir, 'nope-out.ipynb')], {
      env: { NES_RESULT_FILE: file },
    });
    assert.equal(r.code, 3, r.stderr);
    const result = readResult(file);
    assert.equal(result.status, 'failed');
    assert.equal(result.class, 'source');
    assert.equal(result.exitCode, 3);
    assert.match(result.evalue, /nope\.ipynb/);
    assert.ok(statSync(file).size <= RESULT_FILE_LIMIT);
  });

  test('an unwritable result file does not change the exit code', async () => {
    const input = writeNotebook(join(dir, 'ok2.ipynb'), ['1']);
    const r = await nesRun([input, join(dir, 'ok2-out.ipynb')], {
      env: { NES_RESULT_FILE: join(dir, 'no-such-dir', 'result.json') },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cannot write the result/);
  });
});
