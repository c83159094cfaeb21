/**
 * A notebook's history on both drivers (from the day rollup, and from the runs with a label
 * filter): counts per day and status, the
 * success rate, duration percentiles, failure classes, the last success, the commits, a label
 * filter, and a numeric result's trend linked to its runs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunResults } from '@nes/runner';
import { HistoryQueries } from '../src/history/history.ts';
import { pgliteDriver, postgresDriver, spec } from './run-store-support.ts';

const NB = 'github://acme/etl/daily.ipynb';
const results = (value: unknown): RunResults => ({
  version: 1,
  results: [{ name: 'rows', kind: 'value', value: value as number, cellIndex: 1, outputIndex: 0 }],
  exit: null,
  dropped: [],
});

for (const make of [pgliteDriver, postgresDriver]) {
  describe(`notebook history (${make.name})`, () => {
    test('aggregates the window and links the trend to runs', async () => {
      const driver = await make();
      const store = await driver.open();
      try {
        const base = Date.now() - 3 * 86_400_000;
        const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
        const outcomes: Array<[string, number, string, Record<string, string>, unknown]> = [
          // status, duration (s), commit, labels, rows result
          ['succeeded', 10, 'c1', { env: 'prod' }, 10],
          ['succeeded', 20, 'c1', { env: 'prod' }, 20],
          ['failed', 5, 'c2', { env: 'prod' }, null],
          ['succeeded', 30, 'c2', { env: 'dev' }, 'not a number'],
          ['timed_out', 60, 'c2', { env: 'dev' }, null],
          ['succeeded', 40, 'c2', { env: 'prod' }, 40],
        ];
        const ids: string[] = [];
        for (const [i, [status, seconds, sha, labels, rows]] of outcomes.entries()) {
          const { run } = await store.createRun(spec({ notebook: NB, commitSha: sha, labels }));
          ids.push(run.id);
          await store.transition(run.id, 'starting');
          await store.transition(run.id, 'running', { startedAt: at(i * 600) });
          await store.transition(run.id, status as 'succeeded', {
            finishedAt: at(i * 600 + seconds / 60),
            ...(status === 'failed'
              ? { error: { class: 'cell_error', ename: 'E', evalue: 'x', cellIndex: 1 } }
              : status === 'timed_out'
                ? { error: { class: 'timeout', ename: 'T', evalue: 'x', cellIndex: null } }
                : {}),
            ...(rows !== null ? { results: results(rows) } : {}),
          });
        }
        await store.createRun(spec({ notebook: 'github://acme/etl/other.ipynb' }));
        const history = new HistoryQueries(store.db);
        const all = await history.notebook({
          notebook: NB,
          labels: {},
          since: new Date(base - 86_400_000),
        });
        assert.deepEqual(all.totals, { succeeded: 4, failed: 1, timed_out: 1 });
        assert.equal(all.successRate, 4 / 6);
        // Without a label filter, from the rollup's duration sketch: within 1% of exact.
        assert.ok(
          Math.abs((all.durationSeconds.p50 ?? 0) - 25) <= 0.25,
          String(all.durationSeconds.p50),
        );
        assert.ok(
          Math.abs((all.durationSeconds.p95 ?? 0) - 38.5) <= 0.385,
          String(all.durationSeconds.p95),
        );
        assert.deepEqual(
          all.failureClasses.sort((a, b) => a.class.localeCompare(b.class)),
          [
            { class: 'cell_error', count: 1 },
            { class: 'timeout', count: 1 },
          ],
        );
        assert.equal(all.lastSuccess?.runId, ids[5]);
        assert.deepEqual(
          all.commits.map((c) => [c.commitSha, c.runs, c.succeeded]),
          [
            ['c2', 4, 2],
            ['c1', 2, 2],
          ],
        );
        assert.equal(all.recent.length, 6);
        assert.equal(all.recent[0]?.id, ids[5], 'newest first');
        assert.ok(
          all.days.reduce((n, d) => n + Object.values(d.counts).reduce((a, b) => a + b, 0), 0) ===
            6,
        );

        const prod = await history.notebook({
          notebook: NB,
          labels: { env: 'prod' },
          since: new Date(base - 86_400_000),
        });
        assert.deepEqual(prod.totals, { succeeded: 3, failed: 1 });
        const none = await history.notebook({ notebook: NB, labels: {}, since: new Date() });
        assert.deepEqual(none.totals, {});
        assert.equal(none.successRate, null);
        assert.equal(
          none.lastSuccess?.runId,
          ids[5],
          'the last success is not bound to the window',
        );

        const trend = await history.resultTrend({ notebook: NB, labels: {} }, 'rows');
        assert.deepEqual(
          trend.map((p) => [p.runId, p.value]),
          [
            [ids[0], 10],
            [ids[1], 20],
            [ids[5], 40],
          ],
          'numbers only, oldest first, each linked to its run',
        );
      } finally {
        await store.close();
        await driver.dispose();
      }
    });
  });
}
