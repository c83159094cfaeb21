/** Schedules: a notebook on a cron in a time zone, its logical dates, backfills. */
import { Type } from 'typebox';
import { LabelsSchema } from './labels.ts';

const Parameters = Type.Record(Type.String(), Type.Unknown(), {
  description:
    "Parameter templates: strings may hold {{ ds }}, {{ ds_nodash }}, {{ ts }}, {{ ts_nodash }}, {{ ts_nodash_with_tz }}, {{ logical_date }}, {{ data_interval_start }}, {{ data_interval_end }}, or a date variable with one of those filters ({{ data_interval_end | ds }}), in Airflow's formats (UTC)",
});

const PreconditionSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('object'),
      uri: Type.String({
        minLength: 1,
        maxLength: 2048,
        description: 'gs://bucket/key, or a key in the output store; a template ({{ ds }}...)',
      }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('dependsOnPast') }, { additionalProperties: false }),
  Type.Object(
    { kind: Type.Literal('schedule'), schedule: Type.String({ minLength: 1, maxLength: 128 }) },
    {
      additionalProperties: false,
      description: "Another schedule's run for the same logical date succeeded",
    },
  ),
]);

const SCHEDULE_NAME_PATTERN = '^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$';

const fields = {
  name: Type.String({
    pattern: SCHEDULE_NAME_PATTERN,
    description: 'Unique; lowercase letters, digits, ".", "_" and "-" (at most 100)',
  }),
  notebook: Type.String({ minLength: 1, maxLength: 2048 }),
  ref: Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()], {
    description: 'A branch or tag, resolved to its commit at every tick; null: the default branch',
  }),
  kernel: Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()]),
  parameters: Parameters,
  cron: Type.String({
    minLength: 1,
    maxLength: 256,
    description: 'Five fields (minute hour day-of-month month day-of-week) or @hourly, @daily...',
  }),
  timezone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA name; default UTC' }),
  startDate: Type.String({ format: 'date-time' }),
  endDate: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  catchup: Type.Union([Type.Literal('none'), Type.Literal('latest'), Type.Literal('all')], {
    description:
      'Dates missed while paused or down: all (each, in order), latest (only the last, the default), none',
  }),
  maxActiveRuns: Type.Integer({ minimum: 1, maximum: 1000 }),
  timeoutSeconds: Type.Union([Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }), Type.Null()]),
  resources: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  image: Type.Union([Type.String({ minLength: 1, maxLength: 512 }), Type.Null()]),
  labels: LabelsSchema,
  preconditions: Type.Array(PreconditionSchema, { maxItems: 16 }),
  preconditionTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }),
  pokeIntervalSeconds: Type.Integer({ minimum: 1, maximum: 24 * 3600 }),
  rerunOnPush: Type.Boolean({
    description:
      "A push that changes the notebook reruns the schedule's failed dates at the pushed commit",
  }),
  pushPathPrefix: Type.Union([Type.String({ minLength: 1, maxLength: 1024 }), Type.Null()], {
    description: 'Also rerun when a push changes a path under this prefix of the repository',
  }),
  freshnessSlaSeconds: Type.Union(
    [Type.Integer({ minimum: 1, maximum: 365 * 24 * 3600 }), Type.Null()],
    {
      description:
        'How long past its due time a logical date may stay unsucceeded before the schedule is stale',
    },
  ),
};

const optional = <T extends Record<string, Parameters<typeof Type.Optional>[0]>>(o: T) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Type.Optional(v)])) as {
    [K in keyof T]: ReturnType<typeof Type.Optional<T[K]>>;
  };

const { name, notebook, cron, ...rest } = fields;

export const ScheduleBodySchema = Type.Object(
  {
    name,
    notebook,
    cron,
    ...optional(rest),
    allowUnknownParameters: Type.Optional(Type.Boolean()),
    paused: Type.Optional(Type.Boolean({ description: 'Create it paused' })),
  },
  { additionalProperties: false },
);

export const SchedulePatchSchema = Type.Object(
  { ...optional(fields), allowUnknownParameters: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);

const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Null>[0] | ReturnType<typeof Type.String>>(
  t: T,
) => Type.Union([t as ReturnType<typeof Type.String>, Type.Null()]);

export const ScheduleSchema = Type.Object({
  id: Type.String(),
  ...fields,
  paused: Type.Boolean(),
  nextDueAt: Nullable(DateTime),
  nextLogicalDate: Nullable(DateTime),
  freshnessState: Type.Union([Type.Literal('fresh'), Type.Literal('stale')]),
  createdBy: Nullable(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
  upcoming: Type.Optional(
    Type.Array(Type.Object({ logicalDate: DateTime, dueAt: DateTime }), {
      description: 'The next logical dates and when each is due (unless paused)',
    }),
  ),
  links: Type.Object({ self: Type.String(), viewer: Type.String() }),
});

export const ScheduleListSchema = Type.Object({
  schedules: Type.Array(ScheduleSchema),
  nextCursor: Nullable(Type.String()),
});

const DateStateSchema = Type.Union([
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('running'),
  Type.Literal('queued'),
  Type.Literal('waiting'),
  Type.Literal('precondition_timed_out'),
  Type.Literal('cancelled'),
  Type.Literal('invalidated'),
  Type.Literal('missing'),
]);

export const ScheduleDateSchema = Type.Object({
  logicalDate: DateTime,
  dataIntervalStart: DateTime,
  dataIntervalEnd: DateTime,
  state: DateStateSchema,
  trigger: Nullable(Type.String()),
  attempt: Type.Integer(),
  runId: Nullable(Type.String()),
  runStatus: Nullable(Type.String()),
  commitSha: Nullable(Type.String()),
  sweepId: Nullable(Type.String()),
  waitingSince: Nullable(DateTime),
  /** Why it waits, timed out or could not start. */
  reason: Nullable(Type.String()),
});

export const ScheduleDatesSchema = Type.Object({
  scheduleId: Type.String(),
  from: DateTime,
  to: DateTime,
  dates: Type.Array(ScheduleDateSchema),
  /** Whether the range held more dates than one answer gives (the oldest are given). */
  truncated: Type.Boolean(),
});

export const DateRangeQuerySchema = Type.Object(
  {
    from: Type.Optional(DateTime),
    to: Type.Optional(DateTime),
  },
  { additionalProperties: false },
);

export const BackfillBodySchema = Type.Object(
  {
    from: DateTime,
    to: DateTime,
    only: Type.Optional(
      Type.Union([Type.Literal('gaps'), Type.Literal('failed'), Type.Literal('all')], {
        description:
          'gaps: missing and invalidated dates (default); failed: also failed, timed-out and cancelled ones; all: every date not already under way (succeeded ones too)',
      }),
    ),
    maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export const BackfillSchema = Type.Object({
  scheduleId: Type.String(),
  /** The sweep the backfill's runs belong to; null when nothing needed a run. */
  sweepId: Nullable(Type.String()),
  started: Type.Array(DateTime),
  skipped: Type.Array(Type.Object({ logicalDate: DateTime, state: DateStateSchema })),
  links: Type.Object({ sweep: Nullable(Type.String()) }),
});

export const TriggerBodySchema = Type.Object(
  {
    logicalDate: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'A logical date of the schedule; default: the latest interval that has ended',
      }),
    ),
  },
  { additionalProperties: false },
);

export const InvalidateBodySchema = Type.Object(
  { from: DateTime, to: DateTime },
  { additionalProperties: false },
);
