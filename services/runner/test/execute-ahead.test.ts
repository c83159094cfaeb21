/**
 * Cells sent ahead (execute.ts, request-gate.ts): on a kernel nes-run launched itself, the next
 * cells' requests are queued in the kernel while one runs. What runs must be exactly what runs
 * one cell at a time: nothing after a failed cell, nothing after a stop, each cell's outputs and
 * execution count its own. Every check here holds whatever the timing: the kernel's gate decides,
 * not a race.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KernelMessage } from '@jupyterlab/services';
import type { CodeCell } from '@nes/notebook';
import { locateJupyterServer } from '../src/jupyter-server.ts';
import type { ExecuteRequest, KernelClient } from '../src/kernel-client.ts';
import { LocalKernel } from '../src/local-kernel.ts';
import { code, markdown } from './support/notebooks.ts';
import { joined, runCells } from './support/run.ts';

const scratch = mkdtempSync(join(tmpdir(), 'nes-ahead-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A cell appending `mark` to `file`: what ran, in order, whatever the notebook shows. */
function append(file: string, mark: string): CodeCell {
  return code(
    `with open(${JSON.stringify(file)}, "a") as f:\n    f.write(${JSON.stringify(mark)})`,
  );
}

function ran(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function streamText(cell: CodeCell): string {
  return cell.outputs.map((o) => (o.output_type === 'stream' ? joined(o.text) : '')).join('');
}

function startKernel(): Promise<LocalKernel> {
  return LocalKernel.start({
    kernelName: 'python3',
    cwd: scratch,
    binDir: locateJupyterServer().binDir,
  });
}

/**
 * The real kernel, but a request's completion reaches the engine only once the kernel has begun
 * the next request sent (its execute_input came) or has finished with it: so the next cell's
 * messages always arrive before the engine turns to that cell, as happens on a busy machine.
 */
class LateCompletions implements KernelClient {
  readonly #inner: KernelClient;
  readonly #sent: ExecuteRequest[] = [];
  readonly #begun = new Set<string>();
  readonly #waiters = new Map<string, () => void>();
  early = 0;

  constructor(inner: KernelClient) {
    this.#inner = inner;
    inner.onIOPub((msg) => {
      if (msg.header.msg_type !== 'execute_input') return;
      const parent = (msg.parent_header as KernelMessage.IHeader).msg_id;
      this.#begun.add(parent);
      this.#waiters.get(parent)?.();
    });
  }

  get died() {
    return this.#inner.died;
  }
  get death() {
    return this.#inner.death;
  }
  get info() {
    return this.#inner.info;
  }
  get gated() {
    return this.#inner.gated;
  }
  closeGate(): void {
    this.#inner.closeGate?.();
  }
  onIOPub(handler: (msg: KernelMessage.IIOPubMessage) => void): void {
    this.#inner.onIOPub(handler);
  }
  interrupt(): Promise<void> {
    return this.#inner.interrupt();
  }
  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  requestExecute(
    content: KernelMessage.IExecuteRequestMsg['content'],
    options?: { gated?: boolean },
  ): ExecuteRequest {
    const request = this.#inner.requestExecute(content, options);
    const position = this.#sent.push(request) - 1;
    const nextBegun = async (): Promise<void> => {
      const next = this.#sent[position + 1];
      if (!next) return;
      if (this.#begun.has(next.msgId)) {
        this.early += 1;
        return;
      }
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.set(next.msgId, resolve)).then(() => {
          this.early += 1;
        }),
        next.done,
      ]);
    };
    const done = request.done.then(async (reply) => {
      await nextBegun();
      return reply;
    });
    return {
      msgId: request.msgId,
      done,
      onReply: (handler) => request.onReply((reply) => void done.then(() => handler(reply))),
    };
  }
}

describe('the request gate, on the kernel', () => {
  let kernel: Promise<LocalKernel>;
  before(() => {
    kernel = startKernel();
  });
  after(async () => (await kernel).shutdown());
  const run = async (source: string, gated: boolean) => {
    const request = (await kernel).requestExecute(
      { code: source, silent: false, store_history: true, allow_stdin: false, stop_on_error: true },
      { gated },
    );
    return (await request.done).content.status;
  };

  test('after a failed cell, a gated request is aborted; without the gate it would run', async () => {
    assert.equal((await kernel).gated, true);
    const file = join(scratch, 'gate-failed.txt');
    assert.equal(await run('1/0', false), 'error');
    // Sent once the failure is known, so after ipykernel's own abort of its queue has ended.
    assert.equal(await run(`open(${JSON.stringify(file)}, "a").write("gated")`, true), 'aborted');
    assert.equal(await run(`open(${JSON.stringify(file)}, "a").write("plain")`, false), 'ok');
    assert.equal(ran(file), 'plain');
  });
});

describe('a stop closes the gate', () => {
  test('once closed, gated requests are aborted and plain ones still run', async () => {
    const kernel = await startKernel();
    try {
      const run = async (source: string, gated: boolean) =>
        (
          await kernel.requestExecute(
            { code: source, silent: false, store_history: true, allow_stdin: false },
            { gated },
          ).done
        ).content.status;
      assert.equal(await run('x = 1', true), 'ok');
      kernel.closeGate();
      assert.equal(await run('x = 2', true), 'aborted');
      assert.equal(await run('x = 3', false), 'ok');
    } finally {
      await kernel.shutdown();
    }
  });
});

describe('a run with cells sent ahead', () => {
  test('each cell gets its own outputs and execution count, in order', async () => {
    const cells = Array.from({ length: 40 }, (_, i) =>
      i % 10 === 5 ? markdown(`note ${i}`) : code(`print(${i})`),
    );
    cells.splice(3, 0, code('   ')); // blank: skipped, as nbclient does
    const kernel = new LateCompletions(await startKernel());
    const { result, saved, events } = await runCells(cells, { kernel: Promise.resolve(kernel) });
    assert.equal(result.status, 'succeeded');
    // Every cell but the last had begun before the engine turned to it.
    assert.equal(kernel.early, 35);
    let count = 0;
    for (const cell of saved.cells) {
      if (cell.cell_type !== 'code') continue;
      const source = joined(cell.source);
      if (!source.trim()) {
        assert.equal(cell.execution_count, null);
        continue;
      }
      count += 1;
      assert.equal(cell.execution_count, count, source);
      assert.equal(streamText(cell), `${/\d+/.exec(source)?.[0]}\n`, source);
      assert.equal(cell.metadata.papermill?.status, 'completed');
    }
    const order = events.flatMap((e) => (e.type === 'cell_started' ? [e.cellIndex] : []));
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
    );
  });

  test('nothing runs after a failed cell: the cells sent ahead are aborted', async () => {
    const file = join(scratch, 'after-failure.txt');
    const { result, saved } = await runCells([
      append(file, 'a'),
      code('raise ValueError("stop here")'),
      ...Array.from({ length: 12 }, (_, i) => append(file, String(i))),
    ]);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.ename, 'ValueError');
    assert.equal(ran(file), 'a');
    const later = saved.cells.filter((c) => c.cell_type === 'code').slice(2) as CodeCell[];
    assert.equal(later.length, 12);
    for (const cell of later) {
      assert.equal(cell.execution_count, null);
      assert.deepEqual(cell.outputs, []);
      assert.equal(cell.metadata.papermill?.status, 'pending');
    }
  });

  test('a raises-exception cell does not stop the cells after it', async () => {
    const file = join(scratch, 'allowed-error.txt');
    const { result } = await runCells([
      code('raise ValueError("expected")', ['raises-exception']),
      ...Array.from({ length: 10 }, (_, i) => append(file, String(i))),
    ]);
    assert.equal(result.status, 'succeeded');
    assert.equal(ran(file), '0123456789');
  });

  test('cancelled mid-cell: the cells sent ahead never run', async () => {
    const file = join(scratch, 'after-cancel.txt');
    const controller = new AbortController();
    const { result, saved } = await runCells(
      [
        code('import time\nprint("sleeping", flush=True)\ntime.sleep(60)'),
        ...Array.from({ length: 10 }, (_, i) => append(file, String(i))),
      ],
      {
        signal: controller.signal,
        onOutputText: (text) => {
          if (text.includes('sleeping')) controller.abort();
        },
      },
    );
    assert.equal(result.status, 'cancelled');
    assert.equal(result.error?.cellIndex, 0);
    assert.equal(ran(file), '');
    const later = saved.cells.filter((c) => c.cell_type === 'code').slice(1) as CodeCell[];
    for (const cell of later) assert.equal(cell.execution_count, null);
  });

  test('stopped between cells: the notebook records exactly the cells the kernel ran', async () => {
    const file = join(scratch, 'between-cells.txt');
    const controller = new AbortController();
    // The kernel is ahead of the run here: when the run sees cell 2 finish, cell 3 has begun.
    const kernel = new LateCompletions(await startKernel());
    const { result, saved } = await runCells(
      Array.from({ length: 8 }, (_, i) => append(file, String(i))),
      {
        kernel: Promise.resolve(kernel),
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'cell_finished' && event.cellIndex === 2) controller.abort();
        },
      },
    );
    // Cell 3 had begun: it ran (perhaps interrupted before its write); a later one ran only if it
    // had begun too. Every cell before the last one run completed; none after it ran at all.
    const counts = saved.cells.map((cell) => (cell as CodeCell).execution_count);
    const last = counts.findLastIndex((count) => count !== null);
    assert.ok(last >= 3, `cell 3 is recorded as run (counts ${counts})`);
    assert.deepEqual(
      counts.slice(0, last + 1),
      Array.from({ length: last + 1 }, (_, i) => i + 1),
    );
    const marks = ran(file);
    assert.ok(marks === '01234567'.slice(0, last) || marks === '01234567'.slice(0, last + 1));
    // Cancelled, unless the kernel had run every cell by then (as when the stop comes last).
    if (last < 7 || marks.length < 8) assert.equal(result.status, 'cancelled');
  });
});
