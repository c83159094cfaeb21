/**
 * The per-day history rollups, the notebook's (migration 0009) and per label set (0011), on both
 * drivers: after bulk inserts, single submits, every kind of transition (cancelled while queued
 * or running, failures with and without a class, time-outs), reruns, deletes, label changes and
 * rolled-back transitions, the rollup tables equal the same aggregates computed from the runs,
 * and the history read from the rollups, with and without label filters, equals the one computed
 * from the runs for windows that start mid-day, at midnight and before the first run: counts,
 * failure classes and commits exactly, duration percentiles within 1%. A filter matching more
 * label sets than MAX_ROLLUP_LABEL_SETS is answered from the runs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NotebookHistory } from '@nes/client';
import type { SqlRunStore } from '../src/db/index.ts';
import { RELATIVE_ACCURACY } from '../src/history/duration-sketch.ts';
import { HistoryQueries, MAX_ROLLUP_LABEL_SETS } from '../src/history/history.ts';
import type { RunStatus } from '../src/runs/run-model.ts';
import { pgliteDriver, postgresDriver, spec } from './run-store-support.ts';

const NB = 'github://acme/etl/daily.ipynb';
const DAY = 86_400_000;

/** A small deterministic generator (mulberry32), so every run of the test sees the same data. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** 400 runs over ten days, inserted in one statement (the bulk path of the insert trigger). */
async function bulkInsert(store: SqlRunStore, now: number, rand: () => number): Promise<void> {
  const rows: string[] = [];
  const statuses = [
    'queued',
    'running',
    'succeeded',
    'succeeded',
    'succeeded',
    'failed',
    'timed_out',
    'cancelled',
  ];
  for (let i = 0; i < 400; i++) {
    const notebook = i % 5 === 0 ? 'github://acme/etl/other.ipynb' : NB;
    const created = now - Math.floor(rand() * 10 * DAY);
    const status = statuses[Math.floor(rand() * statuses.length)] as string;
    const started = status === 'queued' ? 'NULL' : `'${new Date(created + 1000).toISOString()}'`;
    const seconds = 0.5 + rand() * 500;
    const finished = ['queued', 'running'].includes(status)
      ? 'NULL'
      : `'${new Date(created + 1000 + Math.round(seconds * 1000)).toISOString()}'`;
    const error =
      status === 'failed'
        ? rand() < 0.5
          ? `'{"class": "cell_error"}'`
          : `'{"ename": "no class"}'`
        : status === 'timed_out'
          ? `'{"class": "timeout"}'`
          : 'NULL';
    const sha = rand() < 0.1 ? 'NULL' : `'c${Math.floor(rand() * 6)}'`;
    // Label sets: env alone, env with a team, and none at all.
    const env = rand() < 0.5 ? 'prod' : 'dev';
    const pick = rand();
    const labels =
      pick < 0.15
        ? `'{}'`
        : pick < 0.55
          ? `'{"env": "${env}"}'`
          : `'{"team": "${rand() < 0.5 ? 'data' : 'web'}", "env": "${env}"}'`;
    rows.push(
      `('bulk${i}', '${status}', '${notebook}', ${sha}, ${labels}, '${new Date(created).toISOString()}', ${started}, ${finished}, ${error})`,
    );
  }
  await store.db.query(
    `INSERT INTO runs (id, status, notebook, commit_sha, labels, created_at, started_at, finished_at, error)
     VALUES ${rows.join(',\n')}`,
  );
}

/** Submits and drives runs through the store, as the service does. */
async function driveRuns(store: SqlRunStore, rand: () => number): Promise<void> {
  const ends: RunStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
  for (let i = 0; i < 40; i++) {
    const labels: Record<string, string> =
      i % 3 === 0 ? { env: 'prod', team: 'data' } : { env: 'prod' };
    const { run } = await store.createRun(
      spec({ notebook: NB, commitSha: i % 7 === 0 ? null : `c${i % 3}`, labels }),
    );
    const end = ends[i % ends.length] as RunStatus;
    if (end === 'cancelled' && i % 8 === 2) {
      await store.transition(run.id, 'cancelled'); // cancelled while queued
      continue;
    }
    await store.transition(run.id, 'starting');
    const startedAt = new Date(Date.now() - 600_000).toISOString();
    await store.transition(run.id, 'running', { startedAt });
    await store.transition(run.id, end, {
      finishedAt: new Date(
        Date.parse(startedAt) + Math.round((1 + rand() * 300) * 1000),
      ).toISOString(),
      ...(end === 'failed'
        ? { error: { class: 'cell_error', ename: 'E', evalue: 'x', cellIndex: 1 } }
        : {}),
      ...(end === 'timed_out'
        ? { error: { class: 'timeout', ename: 'T', evalue: 'x', cellIndex: null } }
        : {}),
    });
    // A rerun of a failed run: a new run of the same notebook and commit that succeeds.
    if (end === 'failed') {
      const { run: again } = await store.createRun(
        spec({ notebook: NB, commitSha: run.commitSha, labels }),
      );
      await store.transition(again.id, 'starting');
      await store.transition(again.id, 'succeeded');
    }
  }
  // Bulk-inserted queued and running runs end too (statement updates of several rows).
  await store.db.query(
    `UPDATE runs SET status = 'cancelled', finished_at = now() WHERE status = 'queued' AND id LIKE 'bulk%'`,
  );
  await store.db.query(
    `UPDATE runs SET status = 'succeeded', finished_at = started_at + interval '42.5 seconds'
      WHERE status = 'running' AND id LIKE 'bulk%' AND id LIKE '%1'`,
  );
  // Progress updates change nothing counted.
  await store.db.query(`UPDATE runs SET progress = '{"cellsDone": 1}' WHERE id LIKE 'bulk%'`);
  await store.db.query(`DELETE FROM runs WHERE id IN ('bulk3', 'bulk4', 'bulk10')`);
}

const FROM_RUNS = {
  days: `SELECT notebook, (created_at AT TIME ZONE 'UTC')::date::text AS day, status,
                nes_failure_class(status, error) AS failure_class, count(*)::int AS runs,
                coalesce(jsonb_object_agg(bucket::text, n) FILTER (WHERE bucket IS NOT NULL), '{}') AS durations
           FROM (SELECT *, nes_duration_bucket(status, started_at, finished_at) AS bucket,
                        count(*) OVER (PARTITION BY notebook, (created_at AT TIME ZONE 'UTC')::date, status,
                          nes_failure_class(status, error), nes_duration_bucket(status, started_at, finished_at)) AS n
                   FROM runs) r
          GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
  rollupDays: `SELECT notebook, day::text AS day, status, failure_class, runs, durations
                 FROM run_history_days ORDER BY 1, 2, 3, 4`,
  commits: `SELECT notebook, (created_at AT TIME ZONE 'UTC')::date::text AS day, coalesce(commit_sha, '') AS commit_sha,
                   count(*)::int AS runs, count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
                   min(created_at) AS first_at, max(created_at) AS last_at
              FROM runs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  rollupCommits: `SELECT notebook, day::text AS day, commit_sha, runs, succeeded, first_at, last_at
                    FROM run_history_commits ORDER BY 1, 2, 3`,
  labelSets: `SELECT notebook, labels, count(*)::int AS runs FROM runs GROUP BY 1, 2 ORDER BY 1, 2`,
  rollupLabelSets: `SELECT notebook, labels, runs FROM run_label_sets ORDER BY 1, 2`,
  labelDays: `SELECT notebook, labels, (created_at AT TIME ZONE 'UTC')::date::text AS day, status,
                     nes_failure_class(status, error) AS failure_class, count(*)::int AS runs,
                     coalesce(jsonb_object_agg(bucket::text, n) FILTER (WHERE bucket IS NOT NULL), '{}') AS durations
                FROM (SELECT *, nes_duration_bucket(status, started_at, finished_at) AS bucket,
                             count(*) OVER (PARTITION BY notebook, labels, (created_at AT TIME ZONE 'UTC')::date, status,
                               nes_failure_class(status, error), nes_duration_bucket(status, started_at, finished_at)) AS n
                        FROM runs) r
               GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
  rollupLabelDays: `SELECT d.notebook, s.labels, d.day::text AS day, d.status, d.failure_class, d.runs, d.durations
                      FROM run_history_label_days d
                      JOIN run_label_sets s USING (notebook, label_set)
                     ORDER BY 1, 2, 3, 4, 5`,
  labelCommits: `SELECT notebook, labels, (created_at AT TIME ZONE 'UTC')::date::text AS day,
                        coalesce(commit_sha, '') AS commit_sha, count(*)::int AS runs,
                        count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
                        min(created_at) AS first_at, max(created_at) AS last_at
                   FROM runs GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
  rollupLabelCommits: `SELECT c.notebook, s.labels, c.day::text AS day, c.commit_sha, c.runs, c.succeeded,
                              c.first_at, c.last_at
                         FROM run_history_label_commits c
                         JOIN run_label_sets s USING (notebook, label_set)
                        ORDER BY 1, 2, 3, 4`,
};

/** Rows with their JSON columns as plain objects (jsonb_object_agg may repeat keys). */
function plain(rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return rows.map((r) => ({
    ...r,
    durations: r.durations === undefined ? undefined : { ...(r.durations as object) },
  }));
}

/** The rollup tables hold exactly what the runs add up to. */
async function assertInStep(store: SqlRunStore, when: string): Promise<void> {
  const days = await store.db.query(FROM_RUNS.days);
  const rolled = await store.db.query(FROM_RUNS.rollupDays);
  // jsonb_object_agg over a window count repeats keys with the same value: compare as objects.
  assert.deepEqual(
    rolled.map((r) => ({ ...r, durations: r.durations })),
    days.map((r) => ({ ...r, durations: { ...(r.durations as object) } })),
    `day rollup ${when}`,
  );
  assert.deepEqual(
    await store.db.query(FROM_RUNS.rollupCommits),
    await store.db.query(FROM_RUNS.commits),
    `commit rollup ${when}`,
  );
  // Per label set: every set with runs is there (and no other), with its own rollup.
  assert.deepEqual(
    await store.db.query(FROM_RUNS.rollupLabelSets),
    await store.db.query(FROM_RUNS.labelSets),
    `label sets ${when}`,
  );
  assert.deepEqual(
    plain(await store.db.query(FROM_RUNS.rollupLabelDays)),
    plain(await store.db.query(FROM_RUNS.labelDays)),
    `label set day rollup ${when}`,
  );
  assert.deepEqual(
    await store.db.query(FROM_RUNS.rollupLabelCommits),
    await store.db.query(FROM_RUNS.labelCommits),
    `label set commit rollup ${when}`,
  );
}

function within(actual: number | null, exact: number | null, what: string): void {
  if (exact === null || actual === null) {
    assert.equal(actual, exact, what);
    return;
  }
  assert.ok(
    Math.abs(actual - exact) <= RELATIVE_ACCURACY * Math.abs(exact) + 1e-9,
    `${what}: ${actual} vs exact ${exact}`,
  );
}

function assertSameHistory(fromRollup: NotebookHistory, fromRuns: NotebookHistory, what: string) {
  assert.deepEqual(fromRollup.totals, fromRuns.totals, `${what}: totals`);
  assert.equal(fromRollup.successRate, fromRuns.successRate, `${what}: success rate`);
  within(fromRollup.durationSeconds.p50, fromRuns.durationSeconds.p50, `${what}: p50`);
  within(fromRollup.durationSeconds.p95, fromRuns.durationSeconds.p95, `${what}: p95`);
  const byDay = (h: NotebookHistory) => h.days.map((d) => [d.day, d.counts]);
  assert.deepEqual(byDay(fromRollup), byDay(fromRuns), `${what}: days`);
  for (const [i, day] of fromRuns.days.entries()) {
    within(fromRollup.days[i]?.p50Seconds ?? null, day.p50Seconds, `${what}: p50 of ${day.day}`);
  }
  const classes = (h: NotebookHistory) =>
    [...h.failureClasses].sort((a, b) => a.class.localeCompare(b.class));
  assert.deepEqual(classes(fromRollup), classes(fromRuns), `${what}: failure classes`);
  const commits = (h: NotebookHistory) =>
    [...h.commits].sort((a, b) => String(a.commitSha).localeCompare(String(b.commitSha)));
  assert.deepEqual(commits(fromRollup), commits(fromRuns), `${what}: commits`);
  assert.deepEqual(fromRollup.lastSuccess, fromRuns.lastSuccess, `${what}: last success`);
  assert.deepEqual(fromRollup.recent, fromRuns.recent, `${what}: recent runs`);
}

for (const make of [pgliteDriver, postgresDriver]) {
  describe(`history rollup (${make.name})`, () => {
    test('kept in step with inserts, transitions, reruns and deletes; answers as the runs do', async () => {
      const driver = await make();
      const store = await driver.open();
      try {
        const rand = random(17);
        const now = Date.now();
        await bulkInsert(store, now, rand);
        await assertInStep(store, 'after a bulk insert');
        await driveRuns(store, rand);
        await assertInStep(store, 'after transitions, reruns and deletes');

        // A transition rolled back takes its rollup change with it.
        const before = await store.db.query(FROM_RUNS.rollupDays);
        await assert.rejects(
          store.db.transaction(async (tx) => {
            await tx.query(
              `UPDATE runs SET status = 'failed', error = '{"class": "x"}' WHERE id = 'bulk1'`,
            );
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.deepEqual(await store.db.query(FROM_RUNS.rollupDays), before);

        const history = new HistoryQueries(store.db);
        const midnight = Math.floor(now / DAY) * DAY - 4 * DAY;
        for (const [what, since] of [
          ['all of it', new Date(now - 400 * DAY)],
          ['mid-day start', new Date(now - 6.37 * DAY)],
          ['midnight start', new Date(midnight)],
          ['today only', new Date(now - 3_600_000)],
        ] as const) {
          const query = { notebook: NB, labels: {}, since };
          assertSameHistory(
            await history.fromRollup(query, new Date(now)),
            await history.fromRuns(query, new Date(now)),
            what,
          );
        }
        // With a label filter, from the matching label sets' rollups: equality on one label, on
        // two, a selector matching no set, and a set of runs whose labels moved.
        const selectors: Array<Record<string, string>> = [
          { env: 'prod' },
          { env: 'dev' },
          { team: 'data' },
          { env: 'prod', team: 'data' },
          { env: 'staging' },
          { team: 'data', env: 'nowhere' },
        ];
        const compareLabelled = async (when: string) => {
          for (const labels of selectors) {
            for (const [what, since] of [
              ['all of it', new Date(now - 400 * DAY)],
              ['mid-day start', new Date(now - 6.37 * DAY)],
              ['midnight start', new Date(midnight)],
            ] as const) {
              const query = { notebook: NB, labels, since };
              const fromRollup = await history.fromRollup(query, new Date(now));
              assertSameHistory(
                fromRollup,
                await history.fromRuns(query, new Date(now)),
                `${JSON.stringify(labels)}, ${what}, ${when}`,
              );
              // A few sets match each selector: notebook() answers from their rollups.
              assert.deepEqual(await history.notebook(query, new Date(now)), fromRollup);
            }
          }
        };
        await compareLabelled('as submitted');
        const prod = await history.fromRollup({
          notebook: NB,
          labels: { env: 'prod', team: 'data' },
          since: new Date(now - 400 * DAY),
        });
        assert.ok((prod.totals.succeeded ?? 0) > 0 && (prod.totals.cancelled ?? 0) > 0);
        assert.ok(prod.failureClasses.length > 0 && prod.commits.length > 0);

        // The service never relabels a run, but a statement that does moves it between sets;
        // the last run of a set deleted takes the set with it.
        await store.db.query(
          `UPDATE runs SET labels = '{"env": "dev", "team": "data"}' WHERE id LIKE 'bulk%' AND id LIKE '%7'`,
        );
        await store.db.query(`UPDATE runs SET labels = '{"env": "qa"}' WHERE id = 'bulk2'`);
        await assertInStep(store, 'after labels moved');
        await compareLabelled('after labels moved');
        await store.db.query(`DELETE FROM runs WHERE id = 'bulk2'`);
        await assertInStep(store, 'after the last run of a set was deleted');
        assert.deepEqual(
          await store.db.query(`SELECT 1 FROM run_label_sets WHERE labels = '{"env": "qa"}'`),
          [],
        );
        const before2 = await store.db.query(FROM_RUNS.rollupLabelDays);
        await assert.rejects(
          store.db.transaction(async (tx) => {
            await tx.query(
              `UPDATE runs SET labels = '{"env": "x"}', status = 'failed' WHERE id = 'bulk1'`,
            );
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.deepEqual(await store.db.query(FROM_RUNS.rollupLabelDays), before2);
      } finally {
        await store.close();
        await driver.dispose();
      }
    });

    test('a filter matching more label sets than pay to add up is answered from the runs', async () => {
      const driver = await make();
      const store = await driver.open();
      try {
        // Every run its own label set (a label carrying a date), all with env=prod.
        const count = MAX_ROLLUP_LABEL_SETS + 5;
        await store.db.query(
          `INSERT INTO runs (id, status, notebook, labels, created_at, started_at, finished_at)
           SELECT 'dated' || g, 'succeeded', $1,
                  jsonb_build_object('env', 'prod', 'date', 'd' || g),
                  now() - g * interval '1 hour', now() - g * interval '1 hour',
                  now() - g * interval '1 hour' + (g * 1.37) * interval '1 second'
             FROM generate_series(1, ${count}) AS g`,
          [NB],
        );
        const history = new HistoryQueries(store.db);
        const now = new Date();
        const since = new Date(now.getTime() - 30 * DAY);
        const many = { notebook: NB, labels: { env: 'prod' }, since };
        const viaRuns = await history.fromRuns(many, now);
        assert.equal(viaRuns.totals.succeeded, count);
        // The exact percentiles, which the rollup's sketch would only approach.
        assert.deepEqual(await history.notebook(many, now), viaRuns);
        assert.notDeepEqual(
          (await history.fromRollup(many, now)).durationSeconds,
          viaRuns.durationSeconds,
        );
        const one = { notebook: NB, labels: { date: 'd7' }, since };
        assert.deepEqual(await history.notebook(one, now), await history.fromRollup(one, now));
      } finally {
        await store.close();
        await driver.dispose();
      }
    });
  });
}
