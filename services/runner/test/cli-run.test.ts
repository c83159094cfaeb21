/** nes-run end to end on real python3 kernels: outputs, events, exit codes, signals. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  cellSource,
  finished,
  HELLO,
  type Json,
  nesRun,
  startNesRun,
  tempDir,
  writeNotebook,
} from './cli-helpers.ts';

const dir = tempDir();
const read = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));
const codeCells = (nb: Json): Json[] => nb.cells.filter((c: Json) => c.cell_type === 'code');
const outputText = (cell: Json): string =>
  cell.outputs
    .map((o: Json) =>
      o.output_type === 'stream' ? (Array.isArray(o.text) ? o.text.join('') : o.text) : '',
    )
    .join('');

describe('nes-run on a python3 kernel', { concurrency: 2 }, () => {
  test('hello example with --json: events in order, notebook written, summary on stderr', async () => {
    const out = join(dir, 'hello.ipynb');
    const r = await nesRun([HELLO, out, '-p', 'name', 'NES user', '-p', 'count', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const types = events.map((e) => e.type);
    const started = types.indexOf('started');
    assert.ok(started >= 0);
    assert.ok(types.slice(0, started).every((t) => t === 'saved' || t === 'log'));
    assert.equal(types.at(-1), 'finished');
    assert.equal(types.at(-2), 'saved');
    assert.equal(events[started].kernel, 'python3');
    assert.equal(events[started].cellsTotal, 6);
    for (const e of events) assert.deepEqual(Object.keys(e).slice(0, 2), ['type', 'time']);
    for (const e of events) assert.equal(typeof e.time, 'string');
    const cellEvents = events.filter(
      (e) => e.type === 'cell_started' || e.type === 'cell_finished',
    );
    assert.equal(cellEvents.length, 12);
    for (let i = 0; i < cellEvents.length; i += 2) {
      assert.equal(cellEvents[i].type, 'cell_started');
      assert.equal(cellEvents[i + 1].type, 'cell_finished');
      assert.equal(cellEvents[i + 1].cellIndex, cellEvents[i].cellIndex);
      assert.equal(cellEvents[i + 1].status, 'completed');
    }
    const saved = events.filter((e) => e.type === 'saved');
    assert.equal(saved.at(-1).reason, 'final');
    assert.equal(events.at(-1).summary.status, 'succeeded');
    assert.equal(events.at(-1).summary.cellsDone, 6);

    const nb = read(out);
    assert.equal(cellSource(nb.cells[2]), '# Parameters\nname = "NES user"\ncount = 3\n');
    assert.equal(outputText(nb.cells[3]), 'Hello, NES user!\n');
    assert.equal(
      outputText(nb.cells[4]),
      '1. Hello, NES user!\n2. Hello, NES user!\n3. Hello, NES user!\n',
    );
    assert.notEqual(nb.metadata.papermill.exception, true);
    assert.match(r.stderr, /nes-run: succeeded in [\d.]+s, 6\/6 cells, output .*hello\.ipynb/);
    assert.doesNotMatch(r.stderr, /^\{/m, 'no JSON on stderr');
  });

  test('stdin to stdout, report mode, --log-output, secrets masked in streamed output', async () => {
    const input = writeNotebook(
      join(dir, 'stdio-in.ipynb'),
      ['api_key = "default"', 'print("hello from the kernel")', 'print("key is", api_key)'],
      { parameters: true },
    );
    const r = await nesRun(
      ['-', '-', '--report-mode', '--log-output', '-p', 'api_key', 'sk-live-123456'],
      {
        stdin: readFileSync(input, 'utf8'),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const nb = JSON.parse(r.stdout);
    assert.equal(outputText(nb.cells[2]), 'hello from the kernel\n');
    for (const cell of nb.cells) assert.equal(cell.metadata.jupyter?.source_hidden, true);
    assert.match(r.stderr, /hello from the kernel/);
    assert.match(r.stderr, /key is \*\*\*/);
    assert.doesNotMatch(r.stderr, /sk-live-123456/);
  });

  test('a cell error: exit 1, notebook saved with the error and papermill banner', async () => {
    const input = writeNotebook(join(dir, 'broken.ipynb'), ['x = 1', '1 / 0', 'print("never")']);
    const out = join(dir, 'broken-out.ipynb');
    const r = await nesRun([input, out, '--events-file', join(dir, 'broken-events.jsonl')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /nes-run: failed \(cell_error at cell \d+\): ZeroDivisionError: division by zero/,
    );
    const nb = read(out);
    assert.equal(nb.metadata.papermill.exception, true);
    const errorCell = nb.cells.find((c: Json) =>
      c.outputs?.some((o: Json) => o.output_type === 'error'),
    );
    assert.ok(errorCell, 'the error output is in the notebook');
    const events = readFileSync(join(dir, 'broken-events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(events.at(-1).summary.error.class, 'cell_error');
  });

  test('--execution-timeout: exit 4, notebook saved', async () => {
    const input = writeNotebook(join(dir, 'slow.ipynb'), [
      'print("before")',
      'import time\ntime.sleep(60)',
    ]);
    const out = join(dir, 'slow-out.ipynb');
    const started = Date.now();
    const r = await nesRun([input, out, '--execution-timeout', '1']);
    assert.equal(r.code, 4, r.stderr);
    assert.ok(Date.now() - started < 30_000);
    assert.match(r.stderr, /timeout|timed_out/);
    const cells = codeCells(read(out));
    assert.equal(outputText(cells[0]), 'before\n');
    assert.ok(cells[1].outputs.some((o: Json) => o.output_type === 'error'));
  });

  test('SIGTERM mid-run: exit 130, notebook saved marked cancelled', async () => {
    const input = writeNotebook(join(dir, 'cancel.ipynb'), [
      'print("first")',
      'import time\ntime.sleep(60)',
      'print("never")',
    ]);
    const out = join(dir, 'cancel-out.ipynb');
    const child = startNesRun([input, out, '--json']);
    const result = finished(child);
    await new Promise<void>((resolve) => {
      let buffer = '';
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        if (/"type":"cell_started"[^\n]*"cellIndex":1/.test(buffer)) resolve();
      });
    });
    child.kill('SIGTERM');
    const r = await result;
    assert.equal(r.code, 130, r.stderr);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
    assert.equal(last.type, 'finished');
    assert.equal(last.summary.status, 'cancelled');
    assert.ok(existsSync(out));
    const cells = codeCells(read(out));
    assert.equal(outputText(cells[0]), 'first\n');
    assert.equal(outputText(cells[2]), '');
    assert.notEqual(cells[1].metadata.papermill?.status, 'completed');
  });
});
