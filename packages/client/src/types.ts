/**
 * The NES HTTP API's shapes (design.md, "Contract"): the one declaration of what crosses HTTP.
 * Clients read them here; the server's models and routes import them from here too (a package
 * never imports a service), and its TypeBox schemas, which validate and document the wire, are
 * checked against them at type-check time (services/nes-api/test/http-types.test.ts).
 */

import type { RunFailure, RunStatus } from '@nes/run-contract';

/** How a run ends (statuses, failure classes, the failure) is the run contract's. */
export {
  type FailureClass,
  isTerminal,
  RUN_STATUSES,
  type RunFailure,
  type RunStatus,
  TERMINAL_STATUSES,
} from '@nes/run-contract';

export interface RunProgress {
  cellsDone: number;
  cellsTotal: number;
  currentCell: number | null;
}

export interface RunLinks {
  self: string;
  notebook: string;
  /** GET: what the notebook recorded (RunResults). */
  results: string;
  viewer: string;
}

/** One result a notebook recorded (nes.record, sb.glue). */
export interface RunResult {
  name: string;
  /** value: JSON in `value`; display / encoded: kept in the notebook at cellIndex/outputIndex. */
  kind: 'value' | 'display' | 'encoded';
  value?: unknown;
  cellIndex: number;
  outputIndex: number;
  mimeTypes?: string[];
  encoder?: string;
  /** Why the value is not kept (too large). */
  omitted?: string;
}

/** GET /v1/history: a notebook's runs over a window. */
export interface NotebookHistory {
  notebook: string;
  labels: Record<string, string>;
  since: string;
  totals: Record<string, number>;
  /** succeeded / (succeeded + failed + timed_out) in the window; null without such runs. */
  successRate: number | null;
  durationSeconds: { p50: number | null; p95: number | null };
  days: Array<{ day: string; counts: Record<string, number>; p50Seconds: number | null }>;
  failureClasses: Array<{ class: string; count: number }>;
  /** The latest success ever (not only in the window): how fresh the notebook's output is. */
  lastSuccess: { runId: string; finishedAt: string; ageSeconds: number } | null;
  commits: Array<{
    commitSha: string | null;
    runs: number;
    succeeded: number;
    firstAt: string;
    lastAt: string;
  }>;
  /** The latest runs in the window, newest first (for a chart of durations). */
  recent: Array<{ id: string; status: string; createdAt: string; durationSeconds: number | null }>;
}

export interface ResultPoint {
  runId: string;
  createdAt: string;
  value: number;
}

/** GET /v1/history/results: a numeric result across a notebook's runs, oldest first. */
export interface ResultTrend {
  name: string;
  points: ResultPoint[];
}

/** GET /v1/runs/{id}/results. */
export interface RunResults {
  runId: string;
  status: string;
  /** False until the run finishes: results are collected at its end. */
  complete: boolean;
  /** The JSON values by name. */
  values: Record<string, unknown>;
  results: RunResult[];
  /** nes.exit(value): the run ended at that cell, successfully. */
  exit: { value: unknown; cellIndex: number } | null;
  dropped: string[];
  links: { run: string; notebook: string };
}

export interface Run {
  id: string;
  status: RunStatus;
  notebook: string;
  ref: string | null;
  commitSha: string | null;
  parameters: Record<string, unknown>;
  kernel: string | null;
  labels: Record<string, string>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: RunProgress;
  error: RunFailure | null;
  outputUri: string | null;
  links: RunLinks;
  timeoutSeconds: number | null;
  resources: Record<string, unknown> | null;
  image: string | null;
  queue: string;
  sweepId: string | null;
  cancelRequested: boolean;
}

/** `POST /v1/runs`. Parameter values may be bigints and @nes/notebook FloatValues (`1.0`). */
export interface SubmitRunRequest {
  notebook: string;
  ref?: string;
  parameters?: Record<string, unknown>;
  kernel?: string;
  labels?: Record<string, string>;
  timeoutSeconds?: number;
  resources?: Record<string, unknown>;
  image?: string;
  /** Concurrency queue (per-queue limits). */
  queue?: string;
  /** Accept parameters the notebook's parameters cell does not declare. */
  allowUnknownParameters?: boolean;
}

/** `POST /v1/runs/:id/rerun`: the run's spec is copied; these override it. */
export interface RerunRequest {
  /** Merged over the original parameters. */
  parameters?: Record<string, unknown>;
  allowUnknownParameters?: boolean;
  /** Replace the original labels. */
  labels?: Record<string, string>;
  timeoutSeconds?: number;
}

export interface ListRunsFilter {
  status?: RunStatus | RunStatus[];
  notebook?: string;
  /** Every label must match (`label=k=v`, repeated). */
  labels?: Record<string, string>;
  createdAfter?: string;
  createdBefore?: string;
  sweepId?: string;
  /** Page size. */
  limit?: number;
  cursor?: string;
}

export interface RunPage {
  runs: Run[];
  nextCursor: string | null;
}

/** One parameter of a notebook's parameters cell (papermill's inspection). */
export interface NotebookParameter {
  name: string;
  type: string | null;
  default: string;
  help: string;
}

/** `POST /v1/inspect`. */
export interface InspectRequest {
  notebook: string;
  ref?: string;
  kernel?: string;
  allowUnknownParameters?: boolean;
}

export interface InspectResult {
  notebook: string;
  ref: string | null;
  commitSha: string | null;
  kernel: string | null;
  language: string;
  parameters: NotebookParameter[];
  warnings: string[];
  /** JSON Schema of the parameters, as submit checks them. */
  schema: Record<string, unknown>;
}

/** A notebook under one of the service's local roots. */
export interface RootNotebook {
  /** Absolute, as `POST /v1/runs` takes it. */
  path: string;
  /** The path under its root. */
  relative: string;
  size: number;
  modifiedAt: string;
}

/** `GET /v1/notebooks`: the notebooks under the service's roots (NES_NOTEBOOK_ROOTS). */
export interface NotebookRoots {
  roots: Array<{ root: string; notebooks: RootNotebook[]; truncated: boolean }>;
}

/** A directory of the output store (`GET /v1/browse/PREFIX/`). */
export interface BrowseListing {
  path: string;
  directories: Array<{ name: string; path: string }>;
  files: Array<{ name: string; path: string; size: number; updated: string; contentType: string }>;
}

/** What `browse` returns: a listing, or one object's bytes and content type. */
export type BrowseResult =
  | { kind: 'directory'; listing: BrowseListing }
  | { kind: 'file'; path: string; contentType: string; body: Uint8Array };

export type SweepStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** `POST /v1/sweeps`: one notebook over a list of parameter sets, a grid, or a date range. */
export interface SubmitSweepRequest {
  notebook: string;
  ref?: string;
  kernel?: string;
  /** Base values every run gets; each set is merged over them. */
  parameters?: Record<string, unknown>;
  /** One run per item. */
  list?: Record<string, unknown>[];
  /** One run per combination (cartesian product). */
  grid?: Record<string, unknown[]>;
  /** A backfill: one run per day from `start` to `end` (YYYY-MM-DD, both included). */
  dateRange?: { parameter: string; start: string; end: string };
  allowUnknownParameters?: boolean;
  maxConcurrency?: number;
  labels?: Record<string, string>;
  timeoutSeconds?: number;
}

export interface Sweep {
  id: string;
  status: SweepStatus;
  total: number;
  /** Runs per status. */
  counts: Partial<Record<RunStatus, number>>;
  /** A schedule's backfill: dates whose run is not created yet. */
  pendingDates?: number;
  runs: Run[];
}

/** Dates missed while paused or down: each in order (all), only the last (latest), none. */
export type CatchupPolicy = 'none' | 'latest' | 'all';

/** What must hold before a logical date's run starts. Strings are templates ({{ ds }}...). */
export type SchedulePrecondition =
  /** An object exists: `gs://bucket/key` or a key in the output store. */
  | { kind: 'object'; uri: string }
  /** The previous logical date of this schedule succeeded (Airflow's depends_on_past). */
  | { kind: 'dependsOnPast' }
  /** Another schedule's run for the same logical date succeeded. */
  | { kind: 'schedule'; schedule: string };

/** What a schedule is: a notebook run on a cron in a time zone, every field set. */
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
  preconditions: SchedulePrecondition[];
  preconditionTimeoutSeconds: number;
  pokeIntervalSeconds: number;
  rerunOnPush: boolean;
  pushPathPrefix: string | null;
  freshnessSlaSeconds: number | null;
}

/** What `POST /v1/schedules` takes (name, notebook and cron, the rest defaulted); `PATCH` takes any part of it. */
export type ScheduleRequest = Pick<ScheduleSpec, 'name' | 'notebook' | 'cron'> &
  Partial<Omit<ScheduleSpec, 'name' | 'notebook' | 'cron'>> & {
    allowUnknownParameters?: boolean;
    paused?: boolean;
  };

export interface Schedule extends ScheduleSpec {
  id: string;
  paused: boolean;
  nextDueAt: string | null;
  nextLogicalDate: string | null;
  freshnessState: 'fresh' | 'stale';
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  upcoming?: Array<{ logicalDate: string; dueAt: string }>;
  links: { self: string; viewer: string };
}

/** A logical date's state as users see it (the calendar, backfill's `only`). */
export type ScheduleDateState =
  | 'succeeded'
  | 'failed'
  | 'running'
  | 'queued'
  | 'waiting'
  | 'precondition_timed_out'
  | 'cancelled'
  | 'invalidated'
  | 'missing';

export interface ScheduleDate {
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  state: ScheduleDateState;
  trigger: string | null;
  attempt: number;
  runId: string | null;
  runStatus: string | null;
  commitSha: string | null;
  sweepId: string | null;
  waitingSince: string | null;
  reason: string | null;
}

export interface ScheduleDates {
  scheduleId: string;
  from: string;
  to: string;
  dates: ScheduleDate[];
  truncated: boolean;
}

export interface BackfillRequest {
  from: string;
  to: string;
  only?: 'gaps' | 'failed' | 'all';
  maxConcurrency?: number;
}

export interface Backfill {
  scheduleId: string;
  sweepId: string | null;
  started: string[];
  skipped: Array<{ logicalDate: string; state: ScheduleDateState }>;
  links: { sweep: string | null };
}

export interface Health {
  ok: boolean;
  status: number;
  body: unknown;
}

/** Events of one run (`GET /v1/runs/:id/events`), keyed by the SSE event name. */
export type RunEvent =
  | {
      type: 'status';
      id: string | null;
      data: {
        status: RunStatus;
        time?: string;
        error?: RunFailure | null;
        outputUri?: string | null;
        run?: Run;
      };
    }
  | { type: 'progress'; id: string | null; data: RunProgress }
  | {
      type: 'log';
      id: string | null;
      data: { time?: string; stream?: string; text: string };
    }
  | { type: 'run'; id: string | null; data: Run }
  | { type: 'unknown'; event: string; id: string | null; data: unknown };

/** Events of the run list (`GET /v1/events`). */
export type RunListEvent =
  | { type: 'run'; id: string | null; data: Run }
  | { type: 'unknown'; event: string; id: string | null; data: unknown };

/**
 * What a token may do: `read` (runs, events, notebooks, logs, the store), `submit` (read, and
 * submit, rerun and cancel runs and sweeps), `admin` (everything, tokens included).
 */
export type TokenScope = 'read' | 'submit' | 'admin';

/** An API token as the API lists it: never its secret. */
export interface ApiToken {
  id: string;
  name: string;
  scopes: TokenScope[];
  state: 'active' | 'expired' | 'revoked';
  createdAt: string;
  /** After this instant the token no longer authenticates; null: it does not expire. */
  expiresAt: string | null;
  revokedAt: string | null;
  /** The last request it authenticated, to the minute; null: never used. */
  lastUsedAt: string | null;
  /** The service's own admin token (NES_ADMIN_TOKEN or the generated one). */
  service: boolean;
}

export interface CreateTokenRequest {
  name: string;
  scopes: TokenScope[];
  /** ISO 8601; absent or null: the token does not expire. */
  expiresAt?: string | null;
}

/** The answer to a create: the token and its secret, which the API never shows again. */
export interface CreatedToken extends ApiToken {
  secret: string;
}
