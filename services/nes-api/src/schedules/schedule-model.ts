/**
 * Schedules as the API stores and serves them: a notebook run on a cron in a time zone, and
 * per logical date (the start of a data interval, Airflow's meaning) a row saying what happened.
 */

export type CatchupPolicy = 'none' | 'latest' | 'all';

/** What must hold before a logical date's run starts. Strings are templates ({{ ds }}...). */
export type Precondition =
  /** An object exists: `gs://bucket/key` or a key in the output store. */
  | { kind: 'object'; uri: string }
  /** The previous logical date of this schedule succeeded (Airflow's depends_on_past). */
  | { kind: 'dependsOnPast' }
  /** Another schedule's run for the same logical date succeeded. */
  | { kind: 'schedule'; schedule: string };

export interface ScheduleSpec {
  name: string;
  notebook: string;
  /** A branch or tag, resolved to its commit at each tick; null: the default branch. */
  ref: string | null;
  kernel: string | null;
  /** Parameter templates; rendered per logical date. */
  parameters: Record<string, unknown>;
  cron: string;
  timezone: string;
  startDate: string;
  endDate: string | null;
  catchup: CatchupPolicy;
  maxActiveRuns: number;
  timeoutSeconds: number | null;
  resources: Record<string, unknown> | null;
  image: string | null;
  labels: Record<string, string>;
  preconditions: Precondition[];
  preconditionTimeoutSeconds: number;
  pokeIntervalSeconds: number;
  rerunOnPush: boolean;
  pushPathPrefix: string | null;
  freshnessSlaSeconds: number | null;
}

export interface Schedule extends ScheduleSpec {
  id: string;
  paused: boolean;
  /** The first logical date the ticker has not considered yet; null: no more dates. */
  cursorDate: string | null;
  /** When that date's run becomes due (its interval's end). */
  nextDueAt: string | null;
  freshnessState: 'fresh' | 'stale';
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

export type DatePhase =
  | 'pending'
  | 'waiting'
  | 'submitted'
  | 'precondition_timed_out'
  | 'failed_to_start'
  | 'cancelled';

export type DateTrigger = 'scheduled' | 'catchup' | 'manual' | 'backfill' | 'push';

export interface ScheduleDate {
  scheduleId: string;
  logicalDate: string;
  dataIntervalEnd: string;
  phase: DatePhase;
  trigger: DateTrigger;
  attempt: number;
  runId: string | null;
  /** The status of runId, when there is one. */
  runStatus: string | null;
  commitSha: string | null;
  refOverride: string | null;
  sweepId: string | null;
  invalidated: boolean;
  waitingSince: string | null;
  nextCheckAt: string;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A logical date's state as users see it (the calendar, backfill's `only`). */
export type DateState =
  | 'succeeded'
  | 'failed'
  | 'running'
  | 'queued'
  | 'waiting'
  | 'precondition_timed_out'
  | 'cancelled'
  | 'invalidated'
  | 'missing';

export function dateState(date: ScheduleDate | undefined): DateState {
  if (date === undefined) return 'missing';
  if (date.invalidated) return 'invalidated';
  switch (date.phase) {
    case 'pending':
      return 'queued';
    case 'waiting':
      return 'waiting';
    case 'precondition_timed_out':
      return 'precondition_timed_out';
    case 'failed_to_start':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    case 'submitted':
      switch (date.runStatus) {
        case 'succeeded':
          return 'succeeded';
        case 'failed':
        case 'timed_out':
          return 'failed';
        case 'cancelled':
          return 'cancelled';
        case null:
          return 'missing';
        default:
          return 'running';
      }
  }
}

/** States a new attempt must not replace: something is already on its way. */
export const ACTIVE_DATE_STATES: readonly DateState[] = ['queued', 'waiting', 'running'];

/** Which states each backfill `only` selects. */
export const BACKFILL_SELECTS: Record<'gaps' | 'failed' | 'all', readonly DateState[]> = {
  gaps: ['missing', 'invalidated'],
  failed: ['failed', 'precondition_timed_out', 'cancelled', 'invalidated'],
  all: ['missing', 'invalidated', 'failed', 'precondition_timed_out', 'cancelled', 'succeeded'],
};
