/**
 * A notebook's history on the embedded database: one notebook with 100,000 runs (a year of
 * runs every five minutes, ~10% failed, among other notebooks' runs) answers GET /v1/history's
 * queries (30 days and a year, from the per-day rollup; with a label filter, from the runs) and a
 * numeric result's trend within 200 ms.
 *
 *   node bench/history.bench.ts [--runs 100000] [--repeat 7] [--label-sets 1,10,100,1000]
 *
 * Prints a table: median and worst of `--repeat` timed calls after one warm-up, beside the
 * 200 ms target and the ratio to it. The runs are inserted with SQL (generate_series), the same
 * columns the service writes; the rollup's triggers count them as they would the service's.
 *
 * With --label-sets, a second table measures where adding up label sets' rollups stops paying
 * (MAX_ROLLUP_LABEL_SETS in history.ts): for each count K, a notebook whose `--runs` runs carry K
 * distinct label sets (plus one where every run has its own), a filter matching all of them,
 * answered from the rollups and from the runs, over 30 days and a year.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRunStore } from '../services/nes-api/src/db/index.ts';
import { HistoryQueries, MAX_ROLLUP_LABEL_SETS } from '../services/nes-api/src/history/history.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    repeat: { type: 'string', default: '7' },
    'label-sets': { type: 'string' },
  },
});
const RUNS = Number(values.runs);
const REPEAT = Number(values.repeat);
const TARGET_MS = 200;
const NOTEBOOK = 'github://acme/etl/daily.ipynb';
const DAY_MS = 86_400_000;

/** Median and worst of REPEAT timed calls after one warm-up, in ms. */
async function time(call: () => Promise<unknown>): Promise<{ median: number; worst: number }> {
  await call();
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] as number, worst: times.at(-1) as number };
}

/** The label-set sweep: rollups added up vs the runs, per count of matching label sets. */
async function labelSetSweep(counts: number[]): Promise<void> {
  console.log('');
  console.log(
    `## A filter matching K label sets (${RUNS} runs over a year; threshold now ${MAX_ROLLUP_LABEL_SETS})`,
  );
  console.log('');
  console.log('| K label sets | window | from the rollups | from the runs | rollups / runs |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const k of counts) {
    const dir = await mkdtemp(join(tmpdir(), 'nes-history-sets-'));
    const store = await createRunStore({ dataDir: dir });
    try {
      // K = 0 stands for "every run its own set" (a label carrying a date).
      const set = k === 0 ? `'d' || g` : `(g % ${k})::text`;
      await store.db.exec(`
        INSERT INTO runs (id, status, notebook, labels, created_at, started_at, finished_at, error)
        SELECT 'r' || g, CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END, '${NOTEBOOK}',
               jsonb_build_object('env', 'prod', 'set', ${set}),
               now() - ((${RUNS} - g) * interval '315 seconds'),
               now() - ((${RUNS} - g) * interval '315 seconds') + interval '2 seconds',
               now() - ((${RUNS} - g) * interval '315 seconds') + (30 + (g % 60)) * interval '1 second',
               CASE WHEN g % 10 = 0 THEN '{"class": "cell_error"}'::jsonb END
          FROM generate_series(1, ${RUNS}) AS g;
        ANALYZE runs;
      `);
      const history = new HistoryQueries(store.db);
      for (const days of [30, 366]) {
        const query = () => ({
          notebook: NOTEBOOK,
          labels: { env: 'prod' },
          since: new Date(Date.now() - days * DAY_MS),
        });
        const rollup = await time(() => history.fromRollup(query()));
        const runs = await time(() => history.fromRuns(query()));
        console.log(
          `| ${k === 0 ? `${RUNS} (one a run)` : k} | ${days} days | ${rollup.median.toFixed(0)} ms | ${runs.median.toFixed(0)} ms | ${(rollup.median / runs.median).toFixed(2)}x |`,
        );
      }
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

const dir = await mkdtemp(join(tmpdir(), 'nes-history-bench-'));
const store = await createRunStore({ dataDir: dir });
try {
  const t0 = performance.now();
  // One notebook's RUNS runs over a year, and as many runs of 20 other notebooks.
  await store.db.exec(`
    INSERT INTO runs (id, status, notebook, commit_sha, labels, created_at, started_at, finished_at, error, results)
    SELECT 'r' || g,
           CASE WHEN g % 10 = 0 THEN 'failed' WHEN g % 97 = 0 THEN 'timed_out' ELSE 'succeeded' END,
           CASE WHEN g % 2 = 0 THEN '${NOTEBOOK}' ELSE 'github://acme/etl/other-' || (g % 20) || '.ipynb' END,
           md5((g / 500)::text),
           jsonb_build_object('env', CASE WHEN g % 4 = 0 THEN 'prod' ELSE 'dev' END),
           now() - ((${RUNS * 2} - g) * interval '150 seconds'),
           now() - ((${RUNS * 2} - g) * interval '150 seconds') + interval '2 seconds',
           now() - ((${RUNS * 2} - g) * interval '150 seconds') + (30 + (g % 60)) * interval '1 second',
           CASE WHEN g % 10 = 0 THEN '{"class": "cell_error", "ename": "ValueError", "evalue": "x", "cellIndex": 3}'::jsonb
                WHEN g % 97 = 0 THEN '{"class": "timeout", "ename": "DeadlineExceeded", "evalue": "x", "cellIndex": null}'::jsonb END,
           jsonb_build_object('version', 1, 'exit', null, 'dropped', '[]'::jsonb, 'results',
             jsonb_build_array(jsonb_build_object('name', 'rows_loaded', 'kind', 'value', 'value', g % 1000,
               'cellIndex', 2, 'outputIndex', 0)))
    FROM generate_series(1, ${RUNS * 2}) AS g;
    ANALYZE runs;
  `);
  const loadSeconds = (performance.now() - t0) / 1000;
  const history = new HistoryQueries(store.db);
  const cases: Array<[string, () => Promise<unknown>]> = [
    [
      'history, 30 days',
      () =>
        history.notebook({
          notebook: NOTEBOOK,
          labels: {},
          since: new Date(Date.now() - 30 * DAY_MS),
        }),
    ],
    [
      'history, 30 days, label env=prod',
      () =>
        history.notebook({
          notebook: NOTEBOOK,
          labels: { env: 'prod' },
          since: new Date(Date.now() - 30 * DAY_MS),
        }),
    ],
    [
      'history, a year (all runs)',
      () =>
        history.notebook({
          notebook: NOTEBOOK,
          labels: {},
          since: new Date(Date.now() - 366 * DAY_MS),
        }),
    ],
    [
      // Two label sets (env=prod, env=dev) in the notebook: the env=prod set's rollup.
      'history, a year, label env=prod',
      () =>
        history.notebook({
          notebook: NOTEBOOK,
          labels: { env: 'prod' },
          since: new Date(Date.now() - 366 * DAY_MS),
        }),
    ],
    [
      'result trend, latest 100 runs',
      () => history.resultTrend({ notebook: NOTEBOOK, labels: {} }, 'rows_loaded'),
    ],
  ];
  const rows: string[] = [];
  for (const [name, call] of cases) {
    const { median, worst } = await time(call);
    const verdict = median <= TARGET_MS ? 'met' : 'MISSED';
    rows.push(
      `| ${name} | ${median.toFixed(0)} ms | ${worst.toFixed(0)} ms | ${TARGET_MS} ms | ${(median / TARGET_MS).toFixed(2)}x | ${verdict} |`,
    );
  }
  const cpu = cpus();
  console.log(
    `# Notebook history benchmark (bench/history.bench.ts), ${new Date().toISOString().slice(0, 10)}`,
  );
  console.log('');
  console.log(
    `- Machine: ${cpu.length} CPU(s), ${cpu[0]?.model ?? '?'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM; Node ${process.version}; PGlite (embedded)`,
  );
  console.log(
    `- ${RUNS} runs of the notebook over a year among ${RUNS} runs of 20 others (inserted in ${loadSeconds.toFixed(1)} s); median and worst of ${REPEAT} calls after a warm-up`,
  );
  console.log('');
  console.log('| query | median | worst | target | median / target | target met |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
if (values['label-sets'] !== undefined)
  await labelSetSweep(values['label-sets'].split(',').map(Number));
