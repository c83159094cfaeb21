/**
 * A notebook's history: runs over time by status, the success rate, durations (p50/p95, and per
 * day for the trend), failure classes, the last success (freshness), the commits that ran, and
 * the trend of a numeric result. Optionally narrowed by labels (all must match). The answers'
 * shapes are the HTTP API's (@nes/client).
 *
 * The window is read from the per-day rollup that triggers keep in step with every run change
 * (migrations 0009 and 0011), plus the runs of the window's first, partial day: a year is ~365
 * rows per status, not 100,000 runs. Without a label filter the notebook's rollup is read; with
 * one, the rollups of the notebook's label sets (a run's whole labels) that the filter matches,
 * added up (every run is in exactly one set). Counts, failure classes and commits are exact;
 * duration percentiles come from the rollup's logarithmic histograms (DurationSketch) and are
 * within 1% of the exact ones. When more than MAX_ROLLUP_LABEL_SETS label sets match (a label
 * carrying a date or a run id makes every run its own set), reading their rollups costs more than
 * reading the runs, and every answer is computed from the runs themselves, exactly.
 */
import type { NotebookHistory, ResultPoint } from '@nes/client';
import type { Database } from '../db/database.ts';
import { iso } from '../db/row-values.ts';
import { DurationSketch } from './duration-sketch.ts';

export interface HistoryQuery {
  notebook: string;
  labels: Record<string, string>;
  /** The window: runs created at or after this instant. */
  since: Date;
}

const SCOPE = 'notebook = $1 AND labels @> $2::jsonb AND created_at >= $3';

/**
 * Up to this many label sets matching a filter, history with that filter is read from their
 * rollups; beyond it, from the runs. Measured with bench/history.bench.ts --label-sets
 * (docs/history.md): the rollup's cost grows with sets x days, the runs' with runs in the
 * window; with 100,000 runs a year the rollups stop paying for a year's window between 100 and
 * 200 sets, and for 30 days (where both take tens of milliseconds) from a few tens.
 */
export const MAX_ROLLUP_LABEL_SETS = 100;

/**
 * The rollup from `fromDay` on of a notebook (no label filter) or of its label sets that a filter
 * matches: a query for its day rows (day, status, failure class, runs, and the histogram of
 * succeeded runs' durations), the FROM and WHERE clauses of its commit rows, and their parameters.
 */
function rollupSource(
  notebook: string,
  fromDay: string,
  labels: Record<string, string>,
): { days: string; commits: string; params: string[] } {
  if (Object.keys(labels).length === 0)
    return {
      days: `SELECT day::text AS day, status, failure_class, runs, durations
               FROM run_history_days WHERE notebook = $1 AND day >= $2::date`,
      commits: 'run_history_commits WHERE notebook = $1 AND day >= $2::date',
      params: [notebook, fromDay],
    };
  const sets = `label_set IN (SELECT label_set FROM run_label_sets
                               WHERE notebook = $1 AND labels @> $3::jsonb)`;
  const days = `run_history_label_days WHERE notebook = $1 AND day >= $2::date AND ${sets}`;
  return {
    // Added up over the sets in the database, which costs less than handing over every set's
    // rows: the counts a day and status, then each day's histograms added up bucket by bucket
    // (rows of no runs that only carry the day's histogram).
    days: `SELECT day::text AS day, status, failure_class, sum(runs)::int AS runs,
                  '{}'::jsonb AS durations
             FROM ${days} GROUP BY 1, 2, 3
           UNION ALL
           SELECT day::text, 'succeeded', '', 0, jsonb_object_agg(bucket, n) FROM (
             SELECT d.day, b.key AS bucket, sum(b.value::int)::int AS n
               FROM (SELECT day, durations FROM ${days} AND status = 'succeeded') d,
                    jsonb_each_text(d.durations) AS b
              GROUP BY 1, 2) h
            GROUP BY 1`,
    commits: `run_history_label_commits WHERE notebook = $1 AND day >= $2::date AND ${sets}`,
    params: [notebook, fromDay, JSON.stringify(labels)],
  };
}

function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function freshness(
  last: Record<string, unknown> | undefined,
  now: Date,
): NotebookHistory['lastSuccess'] {
  if (!last) return null;
  const finishedAt = iso(last.finished_at);
  return {
    runId: last.id as string,
    finishedAt,
    ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(finishedAt)) / 1000)),
  };
}

function recentRuns(rows: Array<Record<string, unknown>>): NotebookHistory['recent'] {
  return rows.map((row) => ({
    id: row.id as string,
    status: row.status as string,
    createdAt: iso(row.created_at),
    durationSeconds: num(row.seconds),
  }));
}

export class HistoryQueries {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async notebook(query: HistoryQuery, now = new Date()): Promise<NotebookHistory> {
    if (Object.keys(query.labels).length === 0) return this.fromRollup(query, now);
    const sets = await this.#db.query(
      `SELECT count(*)::int AS n FROM (
         SELECT 1 FROM run_label_sets WHERE notebook = $1 AND labels @> $2::jsonb LIMIT $3) s`,
      [query.notebook, JSON.stringify(query.labels), MAX_ROLLUP_LABEL_SETS + 1],
    );
    return Number(sets[0]?.n) > MAX_ROLLUP_LABEL_SETS
      ? this.fromRuns(query, now)
      : this.fromRollup(query, now);
  }

  /**
   * The answer from the day rollup (the notebook's, or its matching label sets') and the first
   * day's runs.
   */
  async fromRollup(query: HistoryQuery, now = new Date()): Promise<NotebookHistory> {
    // Whole UTC days from `boundary` on come from the rollup; [since, boundary) from the runs.
    const boundary = new Date(Math.ceil(query.since.getTime() / 86_400_000) * 86_400_000);
    const labels = JSON.stringify(query.labels);
    const window = [query.notebook, query.since.toISOString(), boundary.toISOString(), labels];
    const source = rollupSource(query.notebook, boundary.toISOString().slice(0, 10), query.labels);
    const [dayRows, firstDayRuns, commitRows, firstDayCommits, lastSuccess, recent] =
      await Promise.all([
        this.#db.query(source.days, source.params),
        this.#db.query(
          `SELECT (created_at AT TIME ZONE 'UTC')::date::text AS day, status,
                  nes_failure_class(status, error) AS failure_class, count(*)::int AS runs,
                  nes_duration_bucket(status, started_at, finished_at) AS bucket
             FROM runs WHERE notebook = $1 AND created_at >= $2 AND created_at < $3
              AND labels @> $4::jsonb
            GROUP BY 1, 2, 3, 5`,
          window,
        ),
        // The 20 commits that ran last: a commit seen only on the first, partial day ran before
        // every one of these, so it can only fill the list when there are fewer.
        this.#db.query(
          `SELECT commit_sha, sum(runs)::int AS n, sum(succeeded)::int AS ok,
                  min(first_at) AS first_at, max(last_at) AS last_at
             FROM ${source.commits}
            GROUP BY commit_sha ORDER BY max(last_at) DESC LIMIT 20`,
          source.params,
        ),
        this.#db.query(
          `SELECT coalesce(commit_sha, '') AS commit_sha, count(*)::int AS n,
                  count(*) FILTER (WHERE status = 'succeeded')::int AS ok,
                  min(created_at) AS first_at, max(created_at) AS last_at
             FROM runs WHERE notebook = $1 AND created_at >= $2 AND created_at < $3
              AND labels @> $4::jsonb
            GROUP BY 1`,
          window,
        ),
        this.#lastSuccess(query),
        this.#recent([query.notebook, labels, query.since.toISOString()]),
      ]);
    const totals: Record<string, number> = {};
    const failureClasses = new Map<string, number>();
    const byDay = new Map<string, { counts: Record<string, number>; sketch: DurationSketch }>();
    const all = new DurationSketch();
    // Counts one row (a day, a status, a failure class, how many runs) everywhere it counts;
    // returns what adds the row's durations to its day's sketch and to the whole window's.
    const add = (row: Record<string, unknown>) => {
      const day = row.day as string;
      const status = row.status as string;
      const failureClass = row.failure_class as string;
      const runs = Number(row.runs);
      const entry = byDay.get(day) ?? { counts: {}, sketch: new DurationSketch() };
      byDay.set(day, entry);
      entry.counts[status] = (entry.counts[status] ?? 0) + runs;
      totals[status] = (totals[status] ?? 0) + runs;
      if (failureClass !== '')
        failureClasses.set(failureClass, (failureClasses.get(failureClass) ?? 0) + runs);
      return (bucket: number, count: number) => {
        entry.sketch.add(bucket, count);
        all.add(bucket, count);
      };
    };
    for (const row of firstDayRuns) {
      const addDurations = add(row);
      if (row.bucket !== null && row.bucket !== undefined) {
        addDurations(Number(row.bucket), Number(row.runs));
      }
    }
    for (const row of dayRows) {
      const addDurations = add(row);
      for (const [bucket, count] of Object.entries(row.durations as Record<string, number>)) {
        addDurations(Number(bucket), Number(count));
      }
    }
    // The first day's commits merged with the rollup's; the 20 that ran last.
    const commits = new Map<string, NotebookHistory['commits'][number]>();
    for (const row of [...commitRows, ...firstDayCommits]) {
      const sha = row.commit_sha as string;
      const seen = commits.get(sha);
      const firstAt = iso(row.first_at);
      const lastAt = iso(row.last_at);
      commits.set(sha, {
        commitSha: sha === '' ? null : sha,
        runs: (seen?.runs ?? 0) + Number(row.n),
        succeeded: (seen?.succeeded ?? 0) + Number(row.ok),
        firstAt: seen && seen.firstAt < firstAt ? seen.firstAt : firstAt,
        lastAt: seen && seen.lastAt > lastAt ? seen.lastAt : lastAt,
      });
    }
    return {
      notebook: query.notebook,
      labels: query.labels,
      since: query.since.toISOString(),
      totals,
      successRate: successRate(totals),
      durationSeconds: { p50: all.percentile(0.5), p95: all.percentile(0.95) },
      days: [...byDay.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([day, entry]) => ({
          day,
          counts: entry.counts,
          p50Seconds: entry.sketch.percentile(0.5),
        })),
      failureClasses: [...failureClasses.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([name, count]) => ({ class: name, count })),
      lastSuccess: freshness(lastSuccess[0], now),
      commits: [...commits.values()]
        .sort((a, b) => (a.lastAt < b.lastAt ? 1 : a.lastAt > b.lastAt ? -1 : 0))
        .slice(0, 20),
      recent: recentRuns(recent),
    };
  }

  /**
   * The answer from the runs themselves: exact, and what a filter matching many label sets
   * needs. The window's runs are read once (a materialized CTE) and every aggregate is computed
   * from that copy.
   */
  async fromRuns(query: HistoryQuery, now = new Date()): Promise<NotebookHistory> {
    const params = [query.notebook, JSON.stringify(query.labels), query.since.toISOString()];
    // One scan of the window's runs (materialized once), every aggregate computed from it.
    const [aggregates, lastSuccess, recent] = await Promise.all([
      this.#db.query(
        `WITH w AS MATERIALIZED (
           SELECT status, created_at, commit_sha, error ->> 'class' AS class,
                  (created_at AT TIME ZONE 'UTC')::date::text AS day,
                  CASE WHEN started_at IS NOT NULL THEN extract(epoch FROM finished_at - started_at) END AS seconds
             FROM runs WHERE ${SCOPE})
         SELECT
           (SELECT coalesce(json_agg(d ORDER BY d.day), '[]') FROM (
              SELECT day, status, count(*)::int AS n,
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)
                       FILTER (WHERE status = 'succeeded') AS p50
                FROM w GROUP BY 1, 2) d) AS days,
           (SELECT json_build_object(
                     'p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),
                     'p95', percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds))
              FROM w WHERE status = 'succeeded' AND seconds IS NOT NULL) AS durations,
           (SELECT coalesce(json_agg(f ORDER BY f.n DESC), '[]') FROM (
              SELECT coalesce(class, 'unknown') AS class, count(*)::int AS n
                FROM w WHERE status IN ('failed', 'timed_out') GROUP BY 1) f) AS failures,
           (SELECT coalesce(json_agg(c ORDER BY c.last_at DESC), '[]') FROM (
              SELECT commit_sha, count(*)::int AS n,
                     count(*) FILTER (WHERE status = 'succeeded')::int AS ok,
                     min(created_at) AS first_at, max(created_at) AS last_at
                FROM w GROUP BY commit_sha ORDER BY max(created_at) DESC LIMIT 20) c) AS commits`,
        params,
      ),
      this.#lastSuccess(query),
      this.#recent(params),
    ]);
    const row0 = aggregates[0] ?? {};
    const parsed = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);
    const days = parsed(row0.days) as Array<Record<string, unknown>>;
    const durations = [(parsed(row0.durations) ?? {}) as Record<string, unknown>];
    const failures = parsed(row0.failures) as Array<Record<string, unknown>>;
    const commits = parsed(row0.commits) as Array<Record<string, unknown>>;
    const totals: Record<string, number> = {};
    const byDay = new Map<string, NotebookHistory['days'][number]>();
    for (const row of days) {
      const day = row.day as string;
      const entry = byDay.get(day) ?? { day, counts: {}, p50Seconds: null };
      entry.counts[row.status as string] = Number(row.n);
      if (row.status === 'succeeded') entry.p50Seconds = num(row.p50);
      byDay.set(day, entry);
      totals[row.status as string] = (totals[row.status as string] ?? 0) + Number(row.n);
    }
    const last = lastSuccess[0];
    return {
      notebook: query.notebook,
      labels: query.labels,
      since: query.since.toISOString(),
      totals,
      successRate: successRate(totals),
      durationSeconds: { p50: num(durations[0]?.p50), p95: num(durations[0]?.p95) },
      days: [...byDay.values()],
      failureClasses: failures.map((row) => ({ class: row.class as string, count: Number(row.n) })),
      lastSuccess: freshness(last, now),
      commits: commits.map((row) => ({
        commitSha: (row.commit_sha as string | null) ?? null,
        runs: Number(row.n),
        succeeded: Number(row.ok),
        firstAt: iso(row.first_at),
        lastAt: iso(row.last_at),
      })),
      recent: recentRuns(recent),
    };
  }

  /** The latest success ever (not only in the window). */
  #lastSuccess(query: HistoryQuery) {
    return this.#db.query(
      `SELECT id, finished_at FROM runs
        WHERE notebook = $1 AND labels @> $2::jsonb AND status = 'succeeded'
        ORDER BY submit_seq DESC LIMIT 1`,
      [query.notebook, JSON.stringify(query.labels)],
    );
  }

  #recent(params: unknown[]) {
    return this.#db.query(
      `SELECT id, status, created_at, extract(epoch FROM finished_at - started_at) AS seconds
         FROM runs WHERE ${SCOPE} ORDER BY created_at DESC LIMIT 100`,
      params,
    );
  }

  /** A numeric result's values over the notebook's latest runs (oldest first), linked to them. */
  async resultTrend(
    query: Omit<HistoryQuery, 'since'>,
    name: string,
    limit = 100,
  ): Promise<ResultPoint[]> {
    const rows = await this.#db.query(
      `SELECT id, created_at, (r ->> 'value')::float8 AS value FROM (
         SELECT id, created_at, submit_seq, results FROM runs
          WHERE notebook = $1 AND labels @> $2::jsonb AND results IS NOT NULL
          ORDER BY submit_seq DESC LIMIT $4) latest,
         jsonb_array_elements(latest.results -> 'results') AS r
        WHERE r ->> 'name' = $3 AND jsonb_typeof(r -> 'value') = 'number'
        ORDER BY submit_seq`,
      [query.notebook, JSON.stringify(query.labels), name, limit],
    );
    return rows.map((row) => ({
      runId: row.id as string,
      createdAt: iso(row.created_at),
      value: Number(row.value),
    }));
  }
}

/**
 * Succeeded over the runs that were judged (succeeded, failed, timed out: not the cancelled or
 * the unfinished); null when none was.
 */
function successRate(totals: Record<string, number>): number | null {
  const judged = (totals.succeeded ?? 0) + (totals.failed ?? 0) + (totals.timed_out ?? 0);
  return judged === 0 ? null : (totals.succeeded ?? 0) / judged;
}
