/**
 * Schedules as the API stores and serves them: a notebook run on a cron in a time zone, and
 * per logical date (the start of a data interval, Airflow's meaning) a row saying what happened.
 */

import type { ScheduleDateState, SchedulePrecondition, ScheduleSpec } from '@nes/client';

/** A schedule's fields and preconditions are the HTTP API's (@nes/client). */
export type { ScheduleSpec } from '@nes/client';
export type Precondition = SchedulePrecondition;

/** What a new schedule gets for each field it does not give (and `startDate`: now). */
export const SCHEDULE_DEFAULTS: Readonly<
  Omit<ScheduleSpec, 'name' | 'notebook' | 'cron' | 'startDate'>
> = {
  ref: null,
  kernel: null,
  parameters: {},
  timezone: 'UTC',
  endDate: null,
  catchup: 'latest',
  maxActiveRuns: 1,
  timeoutSeconds: null,
  resources: null,
  image: null,
  labels: {},
  preconditions: [],
  preconditionTimeoutSeconds: 3600,
  pokeIntervalSeconds: 60,
  rerunOnPush: false,
  pushPathPrefix: null,
  freshnessSlaSeconds: null,
};

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

export function dateState(date: ScheduleDate | undefined): ScheduleDateState {
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

/** Which states each backfill `only` selects. */
export const BACKFILL_SELECTS: Record<'gaps' | 'failed' | 'all', readonly ScheduleDateState[]> = {
  gaps: ['missing', 'invalidated'],
  failed: ['failed', 'precondition_timed_out', 'cancelled', 'invalidated'],
  all: ['missing', 'invalidated', 'failed', 'precondition_timed_out', 'cancelled', 'succeeded'],
};
