/**
 * Durable schedule state over the run store's database (PostgreSQL or PGlite, the same SQL).
 * Every write that several replicas might race on is one conditional statement or one
 * transaction: the tick pass locks the due schedules (FOR UPDATE SKIP LOCKED, under an advisory
 * lock that makes one replica the ticker at a time), a date is inserted once per (schedule,
 * logical date), and dates are claimed for dispatch with a lease.
 */
import { randomBytes } from 'node:crypto';
import { parseParametersJson, stringifyParametersJson } from '@nes/notebook';
import type { Database, Row } from '../db/database.ts';
import { iso, isoOrNull } from '../db/row-values.ts';
import type {
  DatePhase,
  DateTrigger,
  Precondition,
  Schedule,
  ScheduleDate,
  ScheduleSpec,
} from './schedule-model.ts';

/** Arbitrary constant shared by every NES process: "NES tick". */
const TICK_LOCK = 0x4e45_5304;

const SCHEDULE_COLUMNS = `id, name, notebook, ref, kernel, parameters::text AS parameters, cron,
  timezone, start_date, end_date, catchup, max_active_runs, timeout_seconds, resources, image,
  labels, paused, preconditions, precondition_timeout_seconds, poke_interval_seconds,
  rerun_on_push, push_path_prefix, freshness_sla_seconds, freshness_state, cursor_date,
  next_due_at, created_by, created_at, updated_at`;

const DATE_COLUMNS = `d.schedule_id, d.logical_date, d.data_interval_end, d.phase, d.trigger,
  d.attempt, d.run_id, r.status AS run_status, d.commit_sha, d.ref_override, d.sweep_id,
  d.invalidated, d.waiting_since, d.next_check_at, d.last_error, d.created_at, d.updated_at`;

/**
 * The rows of the dates in `x` locked in key order, for the updates of many dates at once: two
 * replicas updating overlapping sets (an expired claim taken over) then wait for each other in
 * one order and never deadlock.
 */
const LOCK_IN_ORDER = `SELECT d.schedule_id, d.logical_date FROM schedule_dates d
  JOIN x ON d.schedule_id = x.schedule_id AND d.logical_date = x.logical_date
  ORDER BY d.schedule_id, d.logical_date FOR UPDATE OF d`;

const newScheduleId = () => `sch_${randomBytes(9).toString('base64url')}`;

export class ScheduleNameTakenError extends Error {
  readonly code = 'schedule_name_taken';
}

/** What the tick pass decided for one due schedule. */
export interface TickPlan {
  dates: Array<{ logicalDate: Date; dataIntervalEnd: Date; trigger: DateTrigger }>;
  cursorDate: Date | null;
  nextDueAt: Date | null;
}

interface NewDate {
  logicalDate: string;
  dataIntervalEnd: string;
}

interface ListSchedulesFilter {
  labels?: Record<string, string>;
  paused?: boolean;
  limit: number;
  /** The id after which the page starts (pages are ordered by name, then id). */
  cursor?: string;
}

export class ScheduleStore {
  readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async create(
    spec: ScheduleSpec,
    position: { cursorDate: Date | null; nextDueAt: Date | null },
    createdBy: string | null,
    now: Date,
  ): Promise<Schedule> {
    try {
      const rows = await this.db.query(
        `INSERT INTO schedules (id, name, notebook, ref, kernel, parameters, cron, timezone,
           start_date, end_date, catchup, max_active_runs, timeout_seconds, resources, image,
           labels, preconditions, precondition_timeout_seconds, poke_interval_seconds,
           rerun_on_push, push_path_prefix, freshness_sla_seconds, cursor_date, next_due_at,
           created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15,
           $16::jsonb, $17::jsonb, $18, $19, $20, $21, $22, $23, $24, $25, $26, $26)
         RETURNING ${SCHEDULE_COLUMNS}`,
        [
          newScheduleId(),
          ...specValues(spec),
          isoOrNull(position.cursorDate),
          isoOrNull(position.nextDueAt),
          createdBy,
          now.toISOString(),
        ],
      );
      return toSchedule(rows[0] as Row);
    } catch (error) {
      throw nameTaken(error, spec.name);
    }
  }

  /** By id, or by name. */
  async get(idOrName: string): Promise<Schedule | null> {
    const rows = await this.db.query(
      `SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`,
      [idOrName],
    );
    return rows[0] === undefined ? null : toSchedule(rows[0]);
  }

  async list(
    filter: ListSchedulesFilter,
  ): Promise<{ schedules: Schedule[]; nextCursor: string | null }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown, cast = '') => {
      params.push(value);
      return `$${params.length}${cast}`;
    };
    if (filter.labels !== undefined && Object.keys(filter.labels).length > 0)
      where.push(`labels @> ${param(JSON.stringify(filter.labels), '::jsonb')}`);
    if (filter.paused !== undefined) where.push(`paused = ${param(filter.paused)}`);
    if (filter.cursor !== undefined) {
      where.push(
        `(name, id) > (SELECT name, id FROM schedules WHERE id = ${param(filter.cursor)})`,
      );
    }
    const limit = Math.max(1, Math.floor(filter.limit));
    const rows = await this.db.query(
      `SELECT ${SCHEDULE_COLUMNS} FROM schedules ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY name, id LIMIT ${param(limit + 1, '::int')}`,
      params,
    );
    const page = rows.slice(0, limit).map(toSchedule);
    return {
      schedules: page,
      nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  /** Replaces the spec (and, when the timing changed, the ticker's position). */
  async update(
    id: string,
    spec: ScheduleSpec,
    position: { cursorDate: Date | null; nextDueAt: Date | null } | null,
    now: Date,
  ): Promise<Schedule | null> {
    try {
      const rows = await this.db.query(
        `UPDATE schedules SET name = $2, notebook = $3, ref = $4, kernel = $5, parameters = $6::json,
           cron = $7, timezone = $8, start_date = $9, end_date = $10, catchup = $11,
           max_active_runs = $12, timeout_seconds = $13, resources = $14::jsonb, image = $15,
           labels = $16::jsonb, preconditions = $17::jsonb, precondition_timeout_seconds = $18,
           poke_interval_seconds = $19, rerun_on_push = $20, push_path_prefix = $21,
           freshness_sla_seconds = $22,
           cursor_date = CASE WHEN $23 THEN $24::timestamptz ELSE cursor_date END,
           next_due_at = CASE WHEN $23 THEN $25::timestamptz ELSE next_due_at END,
           updated_at = $26
         WHERE id = $1 RETURNING ${SCHEDULE_COLUMNS}`,
        [
          id,
          ...specValues(spec),
          position !== null,
          isoOrNull(position?.cursorDate ?? null),
          isoOrNull(position?.nextDueAt ?? null),
          now.toISOString(),
        ],
      );
      return rows[0] === undefined ? null : toSchedule(rows[0]);
    } catch (error) {
      throw nameTaken(error, spec.name);
    }
  }

  async setPaused(id: string, paused: boolean, now: Date): Promise<Schedule | null> {
    const rows = await this.db.query(
      `UPDATE schedules SET paused = $2, updated_at = $3 WHERE id = $1 RETURNING ${SCHEDULE_COLUMNS}`,
      [id, paused, now.toISOString()],
    );
    return rows[0] === undefined ? null : toSchedule(rows[0]);
  }

  async setFreshness(id: string, state: 'fresh' | 'stale'): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE schedules SET freshness_state = $2 WHERE id = $1 AND freshness_state <> $2 RETURNING id',
      [id, state],
    );
    return rows.length > 0;
  }

  /** Deletes the schedule and its dates (their runs stay: runs are history). */
  async delete(id: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM schedules WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }

  /**
   * One step of the tick pass: up to `limit` unpaused schedules due at `now` are read, `plan`
   * decides their dates and new position, and one statement applies it, under the ticker's
   * advisory lock: each schedule's position moves only if it is still the one that was read (a
   * replica or a person that moved it meanwhile wins), and the dates of the schedules that moved
   * are inserted (once per logical date) already claimed by this replica for `leaseMs`, so it
   * dispatches them without claiming them again. No transaction spans the planning: on the
   * embedded database that would hold the one connection while JavaScript runs. Schedules are
   * taken until their dates reach `maxDates` (at least one schedule), so an `all` catch-up after
   * a long downtime does not make one huge statement. Returns the dates created, the schedules
   * read, and whether more may be due; null when another replica holds the ticker lock.
   */
  async tick(
    now: Date,
    limit: number,
    plan: (schedule: Schedule) => TickPlan,
    leaseMs: number,
    maxDates = limit,
  ): Promise<{
    created: ScheduleDate[];
    schedules: Schedule[];
    /** Whether due schedules may remain (a full batch, or one cut short by `maxDates`). */
    more: boolean;
  } | null> {
    const due = (
      await this.db.query(
        `SELECT ${SCHEDULE_COLUMNS} FROM schedules
         WHERE NOT paused AND next_due_at <= $1
         ORDER BY next_due_at, id LIMIT $2`,
        [now.toISOString(), limit],
      )
    ).map(toSchedule);
    if (due.length === 0) return { created: [], schedules: [], more: false };
    const dates: Array<Record<string, string>> = [];
    const positions: Array<Record<string, string | null>> = [];
    for (const schedule of due) {
      if (positions.length > 0 && dates.length >= maxDates) break;
      const decided = plan(schedule);
      for (const date of decided.dates) {
        dates.push({
          schedule_id: schedule.id,
          logical_date: date.logicalDate.toISOString(),
          data_interval_end: date.dataIntervalEnd.toISOString(),
          trigger: date.trigger,
        });
      }
      positions.push({
        id: schedule.id,
        was_cursor: schedule.cursorDate,
        was_due: schedule.nextDueAt,
        cursor_date: isoOrNull(decided.cursorDate),
        next_due_at: isoOrNull(decided.nextDueAt),
      });
    }
    const rows = await this.db.query(
      `WITH lock AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($1) AS ok),
       moved AS (
         UPDATE schedules s SET cursor_date = x.cursor_date, next_due_at = x.next_due_at
         FROM json_to_recordset($2::json) AS x(id text, was_cursor timestamptz,
           was_due timestamptz, cursor_date timestamptz, next_due_at timestamptz)
         WHERE s.id = x.id AND (SELECT ok FROM lock) AND NOT s.paused
           AND s.cursor_date IS NOT DISTINCT FROM x.was_cursor
           AND s.next_due_at IS NOT DISTINCT FROM x.was_due
         RETURNING s.id
       ),
       ins AS (
         INSERT INTO schedule_dates (schedule_id, logical_date, data_interval_end, phase,
           trigger, next_check_at, claimed_until, created_at, updated_at)
         SELECT x.schedule_id, x.logical_date, x.data_interval_end, 'pending', x.trigger,
           $4, $5, $4, $4
         FROM json_to_recordset($3::json) AS x(schedule_id text, logical_date timestamptz,
           data_interval_end timestamptz, trigger text)
         WHERE x.schedule_id IN (SELECT id FROM moved)
         ORDER BY x.schedule_id, x.logical_date
         ON CONFLICT (schedule_id, logical_date) DO NOTHING
         RETURNING *
       )
       SELECT l.ok AS locked, ${DATE_COLUMNS.replace('r.status AS run_status', 'NULL AS run_status')}
       FROM lock l LEFT JOIN ins d ON true
       ORDER BY d.schedule_id, d.logical_date`,
      [
        TICK_LOCK,
        JSON.stringify(positions),
        JSON.stringify(dates),
        now.toISOString(),
        new Date(now.getTime() + leaseMs).toISOString(),
      ],
    );
    if (rows[0]?.locked !== true) return null;
    return {
      created: rows.filter((row) => row.schedule_id !== null).map(toDate),
      schedules: due.slice(0, positions.length),
      more: due.length === limit || positions.length < due.length,
    };
  }

  /** Resolves when the database has served the calls waiting for it (see Database.idle). */
  idle(): Promise<void> {
    return this.db.idle();
  }

  /**
   * Claims up to `limit` dates to work on (pending, or waiting whose next check has come), for
   * `leaseMs`: another replica skips them until then. Dates of paused schedules wait, except
   * those a person asked for (manual, backfill, push).
   */
  async claimDates(now: Date, limit: number, leaseMs: number): Promise<ScheduleDate[]> {
    const rows = await this.db.query(
      `WITH todo AS (
         SELECT d.schedule_id, d.logical_date FROM schedule_dates d
         JOIN schedules s ON s.id = d.schedule_id
         WHERE d.phase IN ('pending', 'waiting') AND d.next_check_at <= $1
           AND (d.claimed_until IS NULL OR d.claimed_until <= $1)
           AND (NOT s.paused OR d.trigger IN ('manual', 'backfill', 'push'))
         ORDER BY d.next_check_at, d.logical_date
         LIMIT $2 FOR UPDATE OF d SKIP LOCKED
       ), claimed AS (
         UPDATE schedule_dates x SET claimed_until = $3
         FROM todo WHERE x.schedule_id = todo.schedule_id AND x.logical_date = todo.logical_date
         RETURNING x.*
       )
       SELECT ${DATE_COLUMNS} FROM claimed d LEFT JOIN runs r ON r.id = d.run_id
       ORDER BY d.logical_date`,
      [now.toISOString(), limit, new Date(now.getTime() + leaseMs).toISOString()],
    );
    return rows.map(toDate);
  }

  /** Ends a claim with a new phase (and what comes with it); only for the attempt claimed. */
  async settleDate(
    date: ScheduleDate,
    change: {
      phase: DatePhase;
      runId?: string | null;
      commitSha?: string | null;
      waitingSince?: string | null;
      nextCheckAt?: string;
      lastError?: string | null;
    },
    now: Date,
  ): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE schedule_dates SET phase = $4,
         run_id = CASE WHEN $5 THEN $6 ELSE run_id END,
         commit_sha = CASE WHEN $7 THEN $8 ELSE commit_sha END,
         waiting_since = CASE WHEN $9 THEN $10::timestamptz ELSE waiting_since END,
         next_check_at = COALESCE($11::timestamptz, next_check_at),
         last_error = CASE WHEN $12 THEN $13 ELSE last_error END,
         claimed_until = NULL, updated_at = $14
       WHERE schedule_id = $1 AND logical_date = $2 AND attempt = $3
         AND phase IN ('pending', 'waiting')
       RETURNING schedule_id`,
      [
        date.scheduleId,
        date.logicalDate,
        date.attempt,
        change.phase,
        change.runId !== undefined,
        change.runId ?? null,
        change.commitSha !== undefined,
        change.commitSha ?? null,
        change.waitingSince !== undefined,
        change.waitingSince ?? null,
        change.nextCheckAt ?? null,
        change.lastError !== undefined,
        change.lastError ?? null,
        now.toISOString(),
      ],
    );
    return rows.length > 0;
  }

  /** The schedule's dates in [from, to] (logical dates), oldest first, with their run's status. */
  async listDates(scheduleId: string, from: Date, to: Date, limit = 5000): Promise<ScheduleDate[]> {
    const rows = await this.db.query(
      `SELECT ${DATE_COLUMNS} FROM schedule_dates d LEFT JOIN runs r ON r.id = d.run_id
       WHERE d.schedule_id = $1 AND d.logical_date >= $2 AND d.logical_date <= $3
       ORDER BY d.logical_date LIMIT $4`,
      [scheduleId, from.toISOString(), to.toISOString(), limit],
    );
    return rows.map(toDate);
  }

  async getDate(scheduleId: string, logicalDate: string): Promise<ScheduleDate | null> {
    const rows = await this.db.query(
      `SELECT ${DATE_COLUMNS} FROM schedule_dates d LEFT JOIN runs r ON r.id = d.run_id
       WHERE d.schedule_id = $1 AND d.logical_date = $2`,
      [scheduleId, logicalDate],
    );
    return rows[0] === undefined ? null : toDate(rows[0]);
  }

  /** The latest date whose current run succeeded, or null. */
  async latestSucceeded(scheduleId: string): Promise<ScheduleDate | null> {
    const rows = await this.db.query(
      `SELECT ${DATE_COLUMNS} FROM schedule_dates d JOIN runs r ON r.id = d.run_id
       WHERE d.schedule_id = $1 AND d.phase = 'submitted' AND r.status = 'succeeded'
         AND NOT d.invalidated
       ORDER BY d.logical_date DESC LIMIT 1`,
      [scheduleId],
    );
    return rows[0] === undefined ? null : toDate(rows[0]);
  }

  /** The schedules with these ids (those that still exist). */
  async getMany(ids: readonly string[]): Promise<Schedule[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query(
      `SELECT ${SCHEDULE_COLUMNS} FROM schedules
       WHERE id IN (SELECT json_array_elements_text($1::json))`,
      [JSON.stringify(ids)],
    );
    return rows.map(toSchedule);
  }

  /**
   * How many of each schedule's dates have a run that is queued, starting or running, in one
   * statement. It starts from the active runs of these schedules (an index of active runs by
   * their schedule label, migration 0010), never from a schedule's whole history of dates, and
   * keeps the runs that are a date's current run.
   */
  async countActiveMany(ids: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>(ids.map((id) => [id, 0]));
    if (ids.length === 0) return counts;
    const rows = await this.db.query<{ schedule_id: string; n: number }>(
      `SELECT r.labels ->> 'nes/schedule' AS schedule_id, count(*)::int AS n
       FROM runs r
       WHERE r.labels ->> 'nes/schedule' = ANY (ARRAY(SELECT json_array_elements_text($1::json)))
         AND r.status IN ('queued', 'starting', 'running')
         AND EXISTS (SELECT 1 FROM schedule_dates d WHERE d.run_id = r.id AND d.phase = 'submitted')
       GROUP BY 1`,
      [JSON.stringify(ids)],
    );
    for (const row of rows) counts.set(row.schedule_id, row.n);
    return counts;
  }

  /**
   * Ends many claims with the run each date got (settleDate with phase `submitted`, one
   * statement). Returns the keys (dateKey) of the dates it settled: a date cancelled meanwhile
   * is not among them.
   */
  async settleSubmitted(
    items: ReadonlyArray<{ date: ScheduleDate; runId: string; commitSha: string | null }>,
    now: Date,
  ): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    const rows = await this.db.query(
      `WITH x AS (
         SELECT * FROM json_to_recordset($1::json) AS x(schedule_id text,
           logical_date timestamptz, attempt int, run_id text, commit_sha text)
       ), locked AS (${LOCK_IN_ORDER})
       UPDATE schedule_dates d SET phase = 'submitted', run_id = x.run_id,
         commit_sha = x.commit_sha, last_error = NULL, claimed_until = NULL, updated_at = $2
       FROM x, locked
       WHERE d.schedule_id = x.schedule_id AND d.logical_date = x.logical_date
         AND locked.schedule_id = x.schedule_id AND locked.logical_date = x.logical_date
         AND d.attempt = x.attempt AND d.phase IN ('pending', 'waiting')
       RETURNING d.schedule_id, d.logical_date`,
      [
        JSON.stringify(
          items.map(({ date, runId, commitSha }) => ({
            schedule_id: date.scheduleId,
            logical_date: date.logicalDate,
            attempt: date.attempt,
            run_id: runId,
            commit_sha: commitSha,
          })),
        ),
        now.toISOString(),
      ],
    );
    return new Set(rows.map((row) => dateKey(row.schedule_id as string, iso(row.logical_date))));
  }

  /** Gives claims back untouched, to be looked at again at `nextCheckAt`. */
  async releaseDates(dates: readonly ScheduleDate[], nextCheckAt: Date): Promise<void> {
    if (dates.length === 0) return;
    await this.db.query(
      `WITH x AS (
         SELECT * FROM json_to_recordset($1::json) AS x(schedule_id text,
           logical_date timestamptz, attempt int)
       ), locked AS (${LOCK_IN_ORDER})
       UPDATE schedule_dates d SET claimed_until = NULL, next_check_at = $2
       FROM x, locked
       WHERE d.schedule_id = x.schedule_id AND d.logical_date = x.logical_date
         AND locked.schedule_id = x.schedule_id AND locked.logical_date = x.logical_date
         AND d.attempt = x.attempt`,
      [
        JSON.stringify(
          dates.map((d) => ({
            schedule_id: d.scheduleId,
            logical_date: d.logicalDate,
            attempt: d.attempt,
          })),
        ),
        nextCheckAt.toISOString(),
      ],
    );
  }

  /**
   * Starts a new attempt for each date (inserting the missing ones), unless something is already
   * on its way for it (pending, waiting, or a run queued/starting/running): the guard is in the
   * statement, so concurrent requests cannot start a date twice. Returns the dates it started.
   */
  async startAttempts(
    scheduleId: string,
    dates: NewDate[],
    attempt: { trigger: DateTrigger; sweepId: string | null; refOverride: string | null },
    now: Date,
  ): Promise<string[]> {
    const started: string[] = [];
    for (const date of dates) {
      const rows = await this.db.query(
        `INSERT INTO schedule_dates AS d (schedule_id, logical_date, data_interval_end, phase,
           trigger, sweep_id, ref_override, next_check_at, created_at, updated_at)
         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $7, $7)
         ON CONFLICT (schedule_id, logical_date) DO UPDATE SET
           phase = 'pending', trigger = $4, sweep_id = $5, ref_override = $6,
           attempt = d.attempt + 1, run_id = NULL, commit_sha = NULL, invalidated = false,
           waiting_since = NULL, next_check_at = $7, claimed_until = NULL, last_error = NULL,
           updated_at = $7
         WHERE d.phase NOT IN ('pending', 'waiting')
           AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = d.run_id
                           AND r.status IN ('queued', 'starting', 'running'))
         RETURNING d.logical_date`,
        [
          scheduleId,
          date.logicalDate,
          date.dataIntervalEnd,
          attempt.trigger,
          attempt.sweepId,
          attempt.refOverride,
          now.toISOString(),
        ],
      );
      if (rows.length > 0) started.push(date.logicalDate);
    }
    return started;
  }

  /** Marks dates to recompute; returns the dates marked (only dates that exist). */
  async invalidate(scheduleId: string, from: Date, to: Date, now: Date): Promise<string[]> {
    const rows = await this.db.query(
      `UPDATE schedule_dates SET invalidated = true, updated_at = $4
       WHERE schedule_id = $1 AND logical_date >= $2 AND logical_date <= $3
         AND phase NOT IN ('pending', 'waiting')
       RETURNING logical_date`,
      [scheduleId, from.toISOString(), to.toISOString(), now.toISOString()],
    );
    return rows.map((row) => iso(row.logical_date));
  }

  /** Dates of a backfill that have no run yet: cancelled (the sweep's runs are cancelled apart). */
  async cancelSweepDates(sweepId: string, now: Date): Promise<number> {
    const rows = await this.db.query(
      `UPDATE schedule_dates SET phase = 'cancelled', claimed_until = NULL, updated_at = $2
       WHERE sweep_id = $1 AND phase IN ('pending', 'waiting') RETURNING schedule_id`,
      [sweepId, now.toISOString()],
    );
    return rows.length;
  }

  async datesOfSweep(sweepId: string): Promise<ScheduleDate[]> {
    const rows = await this.db.query(
      `SELECT ${DATE_COLUMNS} FROM schedule_dates d LEFT JOIN runs r ON r.id = d.run_id
       WHERE d.sweep_id = $1 ORDER BY d.logical_date`,
      [sweepId],
    );
    return rows.map(toDate);
  }

  /** Dates whose latest attempt failed (run failed or timed out, precondition timed out, or not started). */
  async failedDates(scheduleId: string): Promise<ScheduleDate[]> {
    const rows = await this.db.query(
      `SELECT ${DATE_COLUMNS} FROM schedule_dates d LEFT JOIN runs r ON r.id = d.run_id
       WHERE d.schedule_id = $1 AND NOT d.invalidated AND (
         d.phase IN ('precondition_timed_out', 'failed_to_start')
         OR (d.phase = 'submitted' AND r.status IN ('failed', 'timed_out')))
       ORDER BY d.logical_date LIMIT 1000`,
      [scheduleId],
    );
    return rows.map(toDate);
  }

  /** Schedules that rerun on push, for the push hook to match against changed paths. */
  async rerunOnPush(): Promise<Schedule[]> {
    const rows = await this.db.query(
      `SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE rerun_on_push ORDER BY name`,
    );
    return rows.map(toSchedule);
  }

  /** Schedules with a freshness SLA. */
  async withFreshnessSla(): Promise<Schedule[]> {
    const rows = await this.db.query(
      `SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE freshness_sla_seconds IS NOT NULL`,
    );
    return rows.map(toSchedule);
  }
}

/** A date's identity in a set: its schedule and logical date (ISO). */
export const dateKey = (scheduleId: string, logicalDate: string) => `${scheduleId} ${logicalDate}`;

function specValues(spec: ScheduleSpec): unknown[] {
  return [
    spec.name,
    spec.notebook,
    spec.ref,
    spec.kernel,
    stringifyParametersJson(spec.parameters),
    spec.cron,
    spec.timezone,
    spec.startDate,
    spec.endDate,
    spec.catchup,
    spec.maxActiveRuns,
    spec.timeoutSeconds,
    spec.resources === null ? null : JSON.stringify(spec.resources),
    spec.image,
    JSON.stringify(spec.labels),
    JSON.stringify(spec.preconditions),
    spec.preconditionTimeoutSeconds,
    spec.pokeIntervalSeconds,
    spec.rerunOnPush,
    spec.pushPathPrefix,
    spec.freshnessSlaSeconds,
  ];
}

function nameTaken(error: unknown, name: string): unknown {
  const e = error as { code?: string; constraint?: string; message?: string };
  if (e.code === '23505' || /schedules_name_key/.test(e.message ?? ''))
    return new ScheduleNameTakenError(`a schedule named ${JSON.stringify(name)} already exists`);
  return error;
}

function toSchedule(row: Row): Schedule {
  return {
    id: row.id as string,
    name: row.name as string,
    notebook: row.notebook as string,
    ref: (row.ref as string | null) ?? null,
    kernel: (row.kernel as string | null) ?? null,
    parameters: parseParametersJson(String(row.parameters ?? '{}')) as Record<string, unknown>,
    cron: row.cron as string,
    timezone: row.timezone as string,
    startDate: iso(row.start_date),
    endDate: isoOrNull(row.end_date),
    catchup: row.catchup as Schedule['catchup'],
    maxActiveRuns: Number(row.max_active_runs),
    timeoutSeconds: row.timeout_seconds === null ? null : Number(row.timeout_seconds),
    resources: (row.resources as Record<string, unknown> | null) ?? null,
    image: (row.image as string | null) ?? null,
    labels: (row.labels as Record<string, string>) ?? {},
    preconditions: (row.preconditions as Precondition[]) ?? [],
    preconditionTimeoutSeconds: Number(row.precondition_timeout_seconds),
    pokeIntervalSeconds: Number(row.poke_interval_seconds),
    rerunOnPush: row.rerun_on_push === true,
    pushPathPrefix: (row.push_path_prefix as string | null) ?? null,
    freshnessSlaSeconds:
      row.freshness_sla_seconds === null ? null : Number(row.freshness_sla_seconds),
    paused: row.paused === true,
    cursorDate: isoOrNull(row.cursor_date),
    nextDueAt: isoOrNull(row.next_due_at),
    freshnessState: row.freshness_state as 'fresh' | 'stale',
    createdBy: (row.created_by as string | null) ?? null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function toDate(row: Row): ScheduleDate {
  return {
    scheduleId: row.schedule_id as string,
    logicalDate: iso(row.logical_date),
    dataIntervalEnd: iso(row.data_interval_end),
    phase: row.phase as DatePhase,
    trigger: row.trigger as DateTrigger,
    attempt: Number(row.attempt),
    runId: (row.run_id as string | null) ?? null,
    runStatus: (row.run_status as string | null) ?? null,
    commitSha: (row.commit_sha as string | null) ?? null,
    refOverride: (row.ref_override as string | null) ?? null,
    sweepId: (row.sweep_id as string | null) ?? null,
    invalidated: row.invalidated === true,
    waitingSince: isoOrNull(row.waiting_since),
    nextCheckAt: iso(row.next_check_at),
    lastError: (row.last_error as string | null) ?? null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}
