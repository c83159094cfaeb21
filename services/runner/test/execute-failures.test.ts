/** Runs that end badly: dead kernel, timeouts, cancellation, unknown kernel, no server. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { code } from './support/notebooks.ts';
import { codeCell, runCells } from './support/run.ts';
import { sharedServer } from './support/server.ts';

const server = sharedServer();

describe('failures', () => {
  test('a kernel that dies mid-run is kernel_died, promptly, never a fresh kernel', async () => {
    const { result, saved, elapsedMs } = await runCells(
      [
        code("print('alive')"),
        code("import os, sys\nprint('dying', flush=True)\nos._exit(1)"),
        code("print('must not run on a fresh kernel')"),
      ],
      { server: server() },
    );
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.class, 'kernel_died');
    assert.equal(result.error?.ename, 'DeadKernelError');
    assert.equal(result.error?.cellIndex, 3, 'the failed cell, after the two banners');
    assert.ok(elapsedMs < 30_000, `took ${elapsedMs} ms: the cell would have slept 60 s`);
    const died = codeCell(saved, 3);
    assert.equal(died.metadata.papermill?.status, 'failed');
    const error = died.outputs.at(-1);
    assert.equal(error?.output_type === 'error' && error.ename, 'DeadKernelError');
    assert.equal(codeCell(saved, 4).execution_count, null);
    assert.deepEqual(codeCell(saved, 4).outputs, []);
  });

  test('a cell over its timeout is interrupted and the run is timed_out', async () => {
    const { result, saved, elapsedMs } = await runCells(
      [code("import time\nprint('start', flush=True)\ntime.sleep(60)"), code('1')],
      { server: server(), cellTimeoutMs: 1000 },
    );
    assert.equal(result.status, 'timed_out');
    assert.deepEqual(result.error, {
      class: 'timeout',
      ename: 'CellTimeoutError',
      evalue: 'Cell execution timed out after 1 s',
      cellIndex: 2,
      cellNumber: 1,
    });
    assert.ok(elapsedMs < 30_000, `took ${elapsedMs} ms: the cell would have slept 60 s`);
    const cell = codeCell(saved, 2);
    const names = cell.outputs.map((o) => (o.output_type === 'error' ? o.ename : o.output_type));
    // The interrupt's KeyboardInterrupt is kept, followed by the runner's account.
    assert.deepEqual(names, ['stream', 'KeyboardInterrupt', 'CellTimeoutError']);
    assert.equal(codeCell(saved, 3).execution_count, null);
  });

  test('the whole-run deadline counts from the start and stops the run', async () => {
    const { result, saved, elapsedMs } = await runCells(
      [code('import time'), code('time.sleep(60)'), code('2')],
      { server: server(), deadlineMs: 3000 },
    );
    assert.equal(result.status, 'timed_out');
    assert.equal(result.error?.class, 'timeout');
    assert.equal(result.error?.ename, 'DeadlineExceeded');
    assert.equal(result.error?.evalue, 'The run exceeded its deadline of 3 s');
    assert.equal(result.error?.cellIndex, 3);
    assert.ok(elapsedMs < 30_000, `took ${elapsedMs} ms: the cell would have slept 60 s`);
    assert.equal(codeCell(saved, 1).execution_count, 1);
    assert.equal(codeCell(saved, 3).metadata.papermill?.status, 'failed');
    assert.equal(codeCell(saved, 4).metadata.papermill?.status, 'pending');
  });

  test('aborting the signal mid-cell cancels: interrupted, saved as cancelled', async () => {
    const controller = new AbortController();
    const { result, saved, elapsedMs } = await runCells(
      [code("print('one')"), code('import time\ntime.sleep(60)'), code("print('three')")],
      {
        server: server(),
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'cell_started' && event.cellIndex === 1) {
            setTimeout(() => controller.abort(), 300);
          }
        },
      },
    );
    assert.equal(result.status, 'cancelled');
    assert.deepEqual(result.error, {
      class: 'cancelled',
      ename: 'Cancelled',
      evalue: 'The run was cancelled',
      cellIndex: 1,
      cellNumber: 2, // the cell that was running, as its author counts it
    });
    assert.ok(elapsedMs < 30_000, `took ${elapsedMs} ms: the cell would have slept 60 s`);
    assert.equal(saved.cells.length, 3, 'no error banner for a cancelled run');
    assert.equal(codeCell(saved, 0).metadata.papermill?.status, 'completed');
    assert.equal(codeCell(saved, 1).metadata.papermill?.status, 'failed');
    assert.equal(codeCell(saved, 2).metadata.papermill?.status, 'pending');
  });

  test('an unknown kernel name fails before running, listing the available kernels', async () => {
    const { result, saved } = await runCells([code('1')], {
      server: server(),
      kernelName: 'no-such-kernel',
    });
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.class, 'source');
    assert.equal(result.error?.ename, 'NoSuchKernel');
    assert.match(result.error?.evalue ?? '', /'no-such-kernel'.*available kernels: .*python3/);
    // papermill's notebook_complete marks every cell still pending (none failed) completed.
    assert.equal(codeCell(saved, 0).metadata.papermill?.status, 'completed');
    assert.equal(codeCell(saved, 0).metadata.papermill?.start_time, null, 'it never ran');
  });

  test('without a server the kernel is launched directly, and gone after the run', async () => {
    const { result, saved, events } = await runCells([
      code("import os\nprint('direct', os.getppid() == int(os.environ['JPY_PARENT_PID']))"),
    ]);
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(codeCell(saved, 0).outputs, [
      { output_type: 'stream', name: 'stdout', text: ['direct True\n'] },
    ]);
    const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
    assert.ok(
      logs.some((m) => m.startsWith('Kernel python3 ready')),
      logs.join('\n'),
    );
    assert.ok(!logs.some((m) => m.includes('Jupyter Server')), 'no Jupyter Server involved');
    const kernels = childProcesses().filter((line) => line.includes('ipykernel'));
    assert.deepEqual(kernels, [], 'no kernel left behind');
  });

  test('a missing jupyter-server is an infra failure, with the notebook still saved', async () => {
    const previous = process.env.NES_JUPYTER_BIN;
    process.env.NES_JUPYTER_BIN = '/nonexistent/bin';
    try {
      const { result, sink } = await runCells([code('1')]);
      assert.equal(result.status, 'failed');
      assert.equal(result.error?.class, 'infra');
      assert.match(result.error?.evalue ?? '', /NES_JUPYTER_BIN=\/nonexistent\/bin/);
      assert.equal(sink.count('final'), 1);
    } finally {
      if (previous === undefined) delete process.env.NES_JUPYTER_BIN;
      else process.env.NES_JUPYTER_BIN = previous;
    }
  });
});

/** This process's live children (zombies excluded; the shared server is one), from /proc. */
function childProcesses(): string[] {
  const children: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[1]) === process.pid) {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
        children.push(`${entry} ${cmdline}`);
      }
    } catch {
      // gone meanwhile
    }
  }
  return children;
}
