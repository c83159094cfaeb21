/**
 * A cell whose IOPub `idle` status never arrives (ZeroMQ's PUB socket drops messages past its
 * high-water mark when a cell floods output faster than it is read) must not hang the run: after
 * the execute reply the runner waits IOPUB_IDLE_GRACE_MS for it, then moves on. The kernel is
 * made to drop its idle messages, so the loss is certain rather than load-dependent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IOPUB_IDLE_GRACE_MS } from '../src/cell-execution.ts';
import { code } from './support/notebooks.ts';
import { codeCell, joined, runCells } from './support/run.ts';

test('a lost idle status: the cell completes after the grace, the next cells run', {
  timeout: 90_000,
}, async () => {
  const run = await runCells([
    code(
      [
        'kernel = get_ipython().kernel',
        'publish = kernel._publish_status',
        "kernel._publish_status = lambda status, *a, **k: None if status == 'idle' else publish(status, *a, **k)",
        "print('patched')",
      ].join('\n'),
    ),
    code("print('second')"),
    code("print('third')"),
  ]);
  assert.equal(run.result.status, 'succeeded', JSON.stringify(run.result.error));
  assert.equal(joined((codeCell(run.saved, 1).outputs[0] as { text: string }).text), 'second\n');
  assert.equal(joined((codeCell(run.saved, 2).outputs[0] as { text: string }).text), 'third\n');
  // Each cell after the patch waited out the grace, and no more (the first's idle was sent).
  assert.ok(run.elapsedMs >= 2 * IOPUB_IDLE_GRACE_MS, `${Math.round(run.elapsedMs)} ms`);
});
