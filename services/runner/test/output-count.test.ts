/**
 * The cap on the number of rich outputs a notebook keeps: 100,000 one-character displays are
 * under a megabyte, but each output costs memory and serialization work beyond its bytes, so
 * only MAX_RICH_OUTPUTS are kept and the rest turn into the notebook cap's note.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Output } from '@nes/notebook';
import { DEFAULT_OUTPUT_LIMITS, MAX_RICH_OUTPUTS, OutputBudget } from '../src/output-limits.ts';

const display = (i: number): Output => ({
  output_type: 'display_data',
  data: { 'text/plain': String(i) },
  metadata: {},
});

test('past MAX_RICH_OUTPUTS display outputs, later ones are refused as over the notebook cap', () => {
  const budget = new OutputBudget(DEFAULT_OUTPUT_LIMITS);
  const kept: Output[] = [];
  for (let i = 0; i < MAX_RICH_OUTPUTS; i++) {
    const output = display(i);
    assert.deepEqual(budget.admit(output), { ok: true });
    kept.push(output);
  }
  const over = budget.admit(display(MAX_RICH_OUTPUTS));
  assert.equal(over.ok, false);
  assert.equal(!over.ok && over.reason, 'notebook');
  // Errors are always kept; streams are not rich outputs.
  const error: Output = { output_type: 'error', ename: 'E', evalue: 'v', traceback: [] };
  assert.deepEqual(budget.admit(error), { ok: true });
  // clear_output gives the count back.
  budget.release(kept.splice(0, 10));
  assert.deepEqual(budget.admit(display(-1)), { ok: true });
  assert.ok(budget.usedBytes < DEFAULT_OUTPUT_LIMITS.perNotebookBytes);
});
