import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEADLINE_ENV, effectiveDeadlineMs } from '../src/cli/job-deadline.ts';

const NOW = Date.parse('2026-11-01T10:00:00Z');
const at = (ms: number) => ({ [DEADLINE_ENV]: new Date(NOW + ms).toISOString() });

test("the Job's deadline, less a margin to save, wins when it comes before the run's timeout", () => {
  assert.equal(effectiveDeadlineMs(60_000, {}, NOW), 60_000, 'no Job deadline: the timeout');
  assert.equal(effectiveDeadlineMs(undefined, {}, NOW), undefined);
  // 200 s left: 15 s (the most) kept to interrupt and save.
  assert.equal(effectiveDeadlineMs(3_600_000, at(200_000), NOW), 185_000);
  // 30 s left: 10% kept.
  assert.equal(effectiveDeadlineMs(3_600_000, at(30_000), NOW), 27_000);
  // The run's own timeout first: unchanged.
  assert.equal(effectiveDeadlineMs(60_000, at(600_000), NOW), 60_000);
  assert.equal(effectiveDeadlineMs(undefined, at(600_000), NOW), 585_000);
  // Already past: stop at once (and save as timed out).
  assert.equal(effectiveDeadlineMs(60_000, at(-5_000), NOW), 0);
  assert.equal(effectiveDeadlineMs(60_000, { [DEADLINE_ENV]: 'not a time' }, NOW), 60_000);
});
