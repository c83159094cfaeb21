/** Kernels other than python3, and notebooks with many cells. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { code, markdown } from './support/notebooks.ts';
import { codeCell, runCells } from './support/run.ts';
import { sharedServer } from './support/server.ts';

const server = sharedServer();

describe('kernels and scale', () => {
  test("the tslab kernel runs a TypeScript cell (on the runner's Node)", async () => {
    const { result, saved } = await runCells(
      [
        code("const answer: number = 6 * 7;\nconsole.log('answer=' + answer);"),
        code('console.log(process.version)'),
      ],
      { server: server(), kernelName: 'tslab' },
    );
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.deepEqual(codeCell(saved, 0).outputs, [
      { output_type: 'stream', name: 'stdout', text: ['answer=42\n'] },
    ]);
    assert.deepEqual(codeCell(saved, 1).outputs, [
      { output_type: 'stream', name: 'stdout', text: [`${process.version}\n`] },
    ]);
    assert.equal(saved.metadata.language_info?.name, 'typescript');
  });

  test('500 cells are not written 500 times', async () => {
    const cells = [];
    for (let i = 0; i < 250; i += 1) cells.push(code(`x${i} = ${i}`), markdown(`step ${i}`));
    const { result, sink, events, elapsedMs } = await runCells(cells, {
      server: server(),
      autosave: { minIntervalMs: 1000 },
    });
    assert.equal(result.status, 'succeeded');
    assert.equal(result.cellsDone, 250);
    // One save at the start, then at most one per second of run, then the final one.
    const bound = 2 + Math.ceil(elapsedMs / 1000);
    assert.ok(sink.writes.length <= bound, `${sink.writes.length} writes in ${elapsedMs} ms`);
    assert.equal(sink.count('final'), 1);
    assert.equal(result.saves, sink.writes.length);
    assert.equal(events.filter((e) => e.type === 'saved').length, sink.writes.length);
  });

  test('a long cell is saved while it runs, with its output so far', async () => {
    const { result, sink } = await runCells(
      [code("import time\nprint('halfway', flush=True)\ntime.sleep(2.5)\nprint('done')")],
      { server: server(), autosave: { minIntervalMs: 1000, longCellEverySeconds: 1 } },
    );
    assert.equal(result.status, 'succeeded');
    const during = sink.writes
      .filter((write) => write.reason === 'autosave')
      .map((write) => JSON.parse(write.text))
      .filter((nb) => nb.cells[0].metadata.papermill.status === 'running');
    assert.ok(during.length >= 1, `${during.length} saves while the cell ran`);
    assert.deepEqual(during.at(-1).cells[0].outputs, [
      { output_type: 'stream', name: 'stdout', text: ['halfway\n'] },
    ]);
  });
});
