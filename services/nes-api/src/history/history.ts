/**
 * A notebook's history, answered from indexed queries on the runs table (runs_notebook_created,
 * runs_notebook): runs over time by status, the success rate, durations (p50/p95, and per day
 * for the trend), failure classes, the last success (freshness), the commits that ran, and the
 * trend of a numeric result. Optionally narrowed by labels (all must match). The answers' shapes
 * are the HTTP API's (@nes/client).
 */
import type { NotebookHistory, ResultPoint } from '@nes/client';
import type { Database } from '../db/database.ts';

export interface HistoryQuery {
  notebook: string;
  labels: Record<string, string>;
  /** The window: runs created at or after this instant. */
  since: Date;
}

const SCOPE = 'notebook = $1 AND labels @> $2::jsonb AND created_at >= $3';

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

export class HistoryQueries {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async notebook(query: HistoryQuery, now = new Date()): Promise<NotebookHistory> {
    const params = [query.notebook, JSON.stringify(query.labels), query.since.toISOString()];
    const [days, durations, failures, lastSuccess, commits, recent] = await Promise.all([
      this.#db.query(
        `SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, status, count(*)::int AS n,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
                  FILTER (WHERE status = 'succeeded' AND started_at IS NOT NULL) AS p50
           FROM runs WHERE ${SCOPE} GROUP BY 1, 2 ORDER BY 1`,
        params,
      ),
      this.#db.query(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) AS p95
           FROM runs WHERE ${SCOPE} AND status = 'succeeded' AND started_at IS NOT NULL`,
        params,
      ),
      this.#db.query(
        `SELECT coalesce(error ->> 'class', 'unknown') AS class, count(*)::int AS n
           FROM runs WHERE ${SCOPE} AND status IN ('failed', 'timed_out')
           GROUP BY 1 ORDER BY 2 DESC`,
        params,
      ),
      this.#db.query(
        `SELECT id, finished_at FROM runs
          WHERE notebook = $1 AND labels @> $2::jsonb AND status = 'succeeded'
          ORDER BY submit_seq DESC LIMIT 1`,
        params.slice(0, 2),
      ),
      this.#db.query(
        `SELECT commit_sha, count(*)::int AS n, count(*) FILTER (WHERE status = 'succeeded')::int AS ok,
                min(created_at) AS first_at, max(created_at) AS last_at
           FROM runs WHERE ${SCOPE} GROUP BY commit_sha ORDER BY max(created_at) DESC LIMIT 20`,
        params,
      ),
      this.#db.query(
        `SELECT id, status, created_at, extract(epoch FROM finished_at - started_at) AS seconds
           FROM runs WHERE ${SCOPE} ORDER BY created_at DESC LIMIT 100`,
        params,
      ),
    ]);
    const totals: Record<string, number> = {};
    const byDay = new Map<string, NotebookHistory['days'][number]>();
    for (const row of days) {
      const day = iso(row.day).slice(0, 10);
      const entry = byDay.get(day) ?? { day, counts: {}, p50Seconds: null };
      entry.counts[row.status as string] = Number(row.n);
      if (row.status === 'succeeded') entry.p50Seconds = num(row.p50);
      byDay.set(day, entry);
      totals[row.status as string] = (totals[row.status as string] ?? 0) + Number(row.n);
    }
    const judged = (totals.succeeded ?? 0) + (totals.failed ?? 0) + (totals.timed_out ?? 0);
    const last = lastSuccess[0];
    return {
      notebook: query.notebook,
      labels: query.labels,
      since: query.since.toISOString(),
      totals,
      successRate: judged === 0 ? null : (totals.succeeded ?? 0) / judged,
      durationSeconds: { p50: num(durations[0]?.p50), p95: num(durations[0]?.p95) },
      days: [...byDay.values()],
      failureClasses: failures.map((row) => ({ class: row.class as string, count: Number(row.n) })),
      lastSuccess: last
        ? {
            runId: last.id as string,
            finishedAt: iso(last.finished_at),
            ageSeconds: Math.max(
              0,
              Math.round((now.getTime() - Date.parse(iso(last.finished_at))) / 1000),
            ),
          }
        : null,
      commits: commits.map((row) => ({
        commitSha: (row.commit_sha as string | null) ?? null,
        runs: Number(row.n),
        succeeded: Number(row.ok),
        firstAt: iso(row.first_at),
        lastAt: iso(row.last_at),
      })),
      recent: recent.map((row) => ({
        id: row.id as string,
        status: row.status as string,
        createdAt: iso(row.created_at),
        durationSeconds: num(row.seconds),
      })),
    };
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
