/**
 * /v1/schedules: create, read, list, update, pause, resume, delete, trigger, the logical dates
 * and their states, invalidation and backfill. Routes only store intent (a schedule, a date to
 * run); the ticker (schedules/ticker.ts) creates the runs, on every replica alike.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ScheduleDate as ScheduleDateView } from '@nes/client';
import { Type } from 'typebox';
import type { ScheduleServices } from '../app-services.ts';
import { ApiError, notFound } from '../errors.ts';
import { CronClock, CronError } from '../schedules/cron.ts';
import {
  BACKFILL_SELECTS,
  dateState,
  SCHEDULE_DEFAULTS,
  type Schedule,
  type ScheduleDate,
  type ScheduleSpec,
} from '../schedules/schedule-model.ts';
import { ScheduleNameTakenError } from '../schedules/schedule-store.ts';
import { checkTemplates, renderParameters, TemplateError } from '../schedules/template.ts';
import { initialPosition } from '../schedules/tick-plan.ts';
import { authErrors, errorResponses } from '../schemas/common.ts';
import { LabelSelectorsSchema, labelsFromSelectors } from '../schemas/labels.ts';
import {
  BackfillBodySchema,
  BackfillSchema,
  DateRangeQuerySchema,
  InvalidateBodySchema,
  ScheduleBodySchema,
  ScheduleDatesSchema,
  ScheduleListSchema,
  SchedulePatchSchema,
  ScheduleSchema,
  TriggerBodySchema,
} from '../schemas/schedule.ts';
import type { RouteContext } from './context.ts';
import { checkParameters, checkParametersSize, resolveNotebook } from './submission.ts';

/** Dates one answer (or one backfill) covers at most. */
const MAX_DATES = 1000;
const UPCOMING = 5;
const DEFAULT_DATES_SHOWN = 30;

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

export const scheduleRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const services = ctx.services.schedules;
  if (services === undefined) return;
  const { store } = services;

  const load = async (id: string): Promise<Schedule> => {
    const schedule = await store.get(id);
    if (schedule === null) throw notFound('schedule', id);
    return schedule;
  };
  const view = (schedule: Schedule, withUpcoming = false) =>
    toApiSchedule(schedule, ctx.config.publicUrl, withUpcoming);

  /** Everything a schedule must pass before it is stored: cron, templates, notebook, parameters. */
  const validate = async (spec: ScheduleSpec, allowUnknown: boolean): Promise<void> => {
    let clock: CronClock;
    try {
      clock = new CronClock(spec.cron, spec.timezone);
      checkTemplates(spec.parameters);
      for (const [i, p] of spec.preconditions.entries())
        if (p.kind === 'object') checkTemplates(p.uri, `preconditions[${i}].uri`);
    } catch (error) {
      if (error instanceof CronError || error instanceof TemplateError)
        throw new ApiError(400, error.code, error.message);
      throw error;
    }
    if (spec.endDate !== null && spec.endDate < spec.startDate)
      throw new ApiError(400, 'invalid_request', 'endDate is before startDate');
    if (spec.pushPathPrefix !== null && !spec.rerunOnPush)
      throw new ApiError(400, 'invalid_request', 'pushPathPrefix needs rerunOnPush: true');
    const { resolved, kernel } = await resolveNotebook(ctx, {
      notebook: spec.notebook,
      ...(spec.ref === null ? {} : { ref: spec.ref }),
      ...(spec.kernel === null ? {} : { kernel: spec.kernel }),
    });
    // The parameters as the first logical date renders them, checked against the notebook.
    const first = clock.atOrAfter(new Date(spec.startDate)) ?? new Date(spec.startDate);
    const rendered = renderParameters(spec.parameters, {
      logicalDate: first,
      dataIntervalStart: first,
      dataIntervalEnd: clock.next(first) ?? first,
    });
    checkParametersSize(ctx, rendered);
    checkParameters(resolved.notebook, kernel, rendered, allowUnknown);
  };

  app.post(
    '/v1/schedules',
    {
      config: { scope: 'submit' },
      schema: {
        summary: 'Create a schedule: a notebook run on a cron in a time zone',
        tags: ['schedules'],
        body: ScheduleBodySchema,
        response: { 201: ScheduleSchema, ...errorResponses(400, 404, 409, 413, 422) },
      },
    },
    async (request, reply) => {
      const { allowUnknownParameters, paused, ...body } = request.body;
      const now = services.clock();
      const spec: ScheduleSpec = { ...SCHEDULE_DEFAULTS, startDate: now.toISOString(), ...body };
      spec.startDate = new Date(body.startDate ?? now).toISOString();
      spec.endDate = body.endDate ? new Date(body.endDate).toISOString() : null;
      await validate(spec, allowUnknownParameters ?? false);
      let schedule = await store
        .create(spec, initialPosition(spec), request.token?.name ?? null, now)
        .catch(conflict);
      if (paused === true) schedule = (await store.setPaused(schedule.id, true, now)) ?? schedule;
      services.wake();
      return reply.status(201).send(view(schedule, true));
    },
  );

  app.get(
    '/v1/schedules',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List schedules by name',
        tags: ['schedules'],
        querystring: Type.Object(
          {
            label: Type.Optional(LabelSelectorsSchema),
            paused: Type.Optional(Type.Boolean()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
            cursor: Type.Optional(Type.String({ maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ScheduleListSchema, ...authErrors },
      },
    },
    async (request) => {
      const q = request.query;
      const labels = labelsFromSelectors(q.label);
      const page = await store.list({
        limit: q.limit ?? 100,
        labels,
        ...(q.paused === undefined ? {} : { paused: q.paused }),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      });
      return { schedules: page.schedules.map((s) => view(s)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/schedules/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'A schedule (by id or name) with its next logical dates',
        tags: ['schedules'],
        params: IdParams,
        response: { 200: ScheduleSchema, ...errorResponses(404) },
      },
    },
    async (request) => view(await load(request.params.id), true),
  );

  app.patch(
    '/v1/schedules/:id',
    {
      config: { scope: 'submit' },
      schema: {
        summary: 'Change a schedule; a new cron or time zone applies from the next logical date',
        tags: ['schedules'],
        params: IdParams,
        body: SchedulePatchSchema,
        response: { 200: ScheduleSchema, ...errorResponses(400, 404, 409, 413, 422) },
      },
    },
    async (request) => {
      const current = await load(request.params.id);
      const { allowUnknownParameters, ...patch } = request.body;
      const spec: ScheduleSpec = { ...specOf(current), ...patch };
      if (patch.startDate !== undefined) spec.startDate = new Date(patch.startDate).toISOString();
      if (patch.endDate) spec.endDate = new Date(patch.endDate).toISOString();
      await validate(spec, allowUnknownParameters ?? false);
      const timing =
        spec.cron !== current.cron ||
        spec.timezone !== current.timezone ||
        spec.startDate !== current.startDate ||
        spec.endDate !== current.endDate;
      // Dates before the current position were considered already: a new clock starts there.
      const after =
        current.cursorDate === null ? null : new Date(new Date(current.cursorDate).getTime() - 1);
      const updated = await store
        .update(current.id, spec, timing ? initialPosition(spec, after) : null, services.clock())
        .catch(conflict);
      if (updated === null) throw notFound('schedule', request.params.id);
      services.wake();
      return view(updated, true);
    },
  );

  app.delete(
    '/v1/schedules/:id',
    {
      config: { scope: 'submit' },
      schema: {
        summary: 'Delete a schedule and its dates (its runs stay)',
        tags: ['schedules'],
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const schedule = await load(request.params.id);
      await store.delete(schedule.id);
      return reply.status(204).send(null);
    },
  );

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    app.post(
      `/v1/schedules/:id/${action}`,
      {
        config: { scope: 'submit' },
        schema: {
          summary:
            action === 'pause'
              ? 'Pause: no new logical dates until resumed'
              : 'Resume: dates missed meanwhile follow the catch-up policy',
          tags: ['schedules'],
          params: IdParams,
          response: { 200: ScheduleSchema, ...errorResponses(404) },
        },
      },
      async (request) => {
        const schedule = await load(request.params.id);
        const updated = await store.setPaused(schedule.id, paused, services.clock());
        if (updated === null) throw notFound('schedule', request.params.id);
        if (!paused) services.wake();
        return view(updated, true);
      },
    );
  }

  app.post(
    '/v1/schedules/:id/trigger',
    {
      config: { scope: 'submit' },
      schema: {
        summary:
          'Run a logical date now (default: the latest interval that has ended), even when paused',
        tags: ['schedules'],
        params: IdParams,
        body: Type.Optional(TriggerBodySchema),
        response: { 201: ScheduleDateViewSchema(), ...errorResponses(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const schedule = await load(request.params.id);
      const clock = clockOf(schedule);
      const now = services.clock();
      let interval = clock.latestEnded(now);
      if (request.body?.logicalDate !== undefined) {
        const at = new Date(request.body.logicalDate);
        if (clock.atOrAfter(at)?.getTime() !== at.getTime()) {
          throw new ApiError(
            400,
            'not_a_logical_date',
            `${at.toISOString()} is not a logical date of cron "${schedule.cron}" in ${schedule.timezone}; the nearest after it is ${clock.atOrAfter(at)?.toISOString() ?? 'none'}`,
          );
        }
        interval = clock.interval(at);
      }
      if (interval === null)
        throw new ApiError(400, 'not_a_logical_date', 'the schedule has no logical date to run');
      const logicalDate = interval.start.toISOString();
      const started = await store.startAttempts(
        schedule.id,
        [{ logicalDate, dataIntervalEnd: interval.end.toISOString() }],
        { trigger: 'manual', sweepId: null, refOverride: null },
        now,
      );
      if (started.length === 0) {
        throw new ApiError(
          409,
          'date_in_progress',
          `logical date ${logicalDate} already has a run on its way`,
          { logicalDate },
        );
      }
      services.wake();
      const date = await store.getDate(schedule.id, logicalDate);
      return reply.status(201).send(dateView(logicalDate, interval.end.toISOString(), date));
    },
  );

  app.get(
    '/v1/schedules/:id/dates',
    {
      config: { scope: 'read' },
      schema: {
        summary:
          'Logical dates in a range and their state (missing ones included); default: the latest 30 due',
        tags: ['schedules'],
        params: IdParams,
        querystring: DateRangeQuerySchema,
        response: { 200: ScheduleDatesSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const schedule = await load(request.params.id);
      const range = dateRange(schedule, request.query, services);
      const { dates, truncated } = await datesIn(schedule, range, services);
      return {
        scheduleId: schedule.id,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        dates,
        truncated,
      };
    },
  );

  app.post(
    '/v1/schedules/:id/invalidate',
    {
      config: { scope: 'submit' },
      schema: {
        summary: 'Mark the dates in a range to recompute (a backfill of gaps reruns them)',
        tags: ['schedules'],
        params: IdParams,
        body: InvalidateBodySchema,
        response: {
          200: Type.Object({ invalidated: Type.Array(Type.String({ format: 'date-time' })) }),
          ...errorResponses(400, 404),
        },
      },
    },
    async (request) => {
      const schedule = await load(request.params.id);
      const { from, to } = checkedRange(request.body.from, request.body.to);
      return { invalidated: await store.invalidate(schedule.id, from, to, services.clock()) };
    },
  );

  app.post(
    '/v1/schedules/:id/backfill',
    {
      config: { scope: 'submit' },
      schema: {
        summary:
          'Run the logical dates in [from, to] that need it, as one sweep; a date already under way (or succeeded, unless only=all) is not run again',
        tags: ['schedules'],
        params: IdParams,
        body: BackfillBodySchema,
        response: { 200: BackfillSchema, 201: BackfillSchema, ...errorResponses(400, 404, 413) },
      },
    },
    async (request, reply) => {
      const schedule = await load(request.params.id);
      const range = checkedRange(request.body.from, request.body.to);
      const only = request.body.only ?? 'gaps';
      const { dates, truncated } = await datesIn(schedule, range, services);
      if (truncated) {
        throw new ApiError(
          413,
          'backfill_too_large',
          `a backfill covers at most ${MAX_DATES} logical dates; split the range`,
        );
      }
      const wanted = dates.filter((d) => BACKFILL_SELECTS[only].includes(d.state));
      const sweepId = wanted.length > 0 ? `sweep-${randomUUID()}` : null;
      if (sweepId !== null && request.body.maxConcurrency !== undefined)
        ctx.services.scheduler.limitQueue?.(sweepId, request.body.maxConcurrency);
      const started =
        sweepId === null
          ? []
          : await store.startAttempts(
              schedule.id,
              wanted.map((d) => ({
                logicalDate: d.logicalDate,
                dataIntervalEnd: d.dataIntervalEnd,
              })),
              { trigger: 'backfill', sweepId, refOverride: null },
              services.clock(),
            );
      const startedSet = new Set(started);
      services.wake();
      const kept = started.length > 0 ? sweepId : null;
      return reply.status(started.length > 0 ? 201 : 200).send({
        scheduleId: schedule.id,
        sweepId: kept,
        started,
        skipped: dates
          .filter((d) => !startedSet.has(d.logicalDate))
          .map((d) => ({ logicalDate: d.logicalDate, state: d.state })),
        links: {
          sweep:
            kept === null ? null : `${ctx.config.publicUrl}/v1/sweeps/${encodeURIComponent(kept)}`,
        },
      });
    },
  );
};

function ScheduleDateViewSchema() {
  return ScheduleDatesSchema.properties.dates.items;
}

function conflict(error: unknown): never {
  if (error instanceof ScheduleNameTakenError) throw new ApiError(409, error.code, error.message);
  throw error;
}

const clockOf = (schedule: Pick<Schedule, 'cron' | 'timezone'>) =>
  new CronClock(schedule.cron, schedule.timezone);

function specOf(schedule: Schedule): ScheduleSpec {
  const {
    id: _id,
    paused: _p,
    cursorDate: _c,
    nextDueAt: _n,
    freshnessState: _f,
    createdBy: _b,
    createdAt: _a,
    updatedAt: _u,
    ...spec
  } = schedule;
  return spec;
}

function checkedRange(from: string, to: string): { from: Date; to: Date } {
  const range = { from: new Date(from), to: new Date(to) };
  if (range.to < range.from) throw new ApiError(400, 'invalid_request', '"to" is before "from"');
  return range;
}

/** The range asked for, or the latest DEFAULT_DATES_SHOWN logical dates that are due. */
function dateRange(
  schedule: Schedule,
  query: { from?: string; to?: string },
  services: ScheduleServices,
): { from: Date; to: Date } {
  const clock = clockOf(schedule);
  const to = query.to === undefined ? services.clock() : new Date(query.to);
  if (query.from !== undefined) return checkedRange(query.from, to.toISOString());
  let from = clock.latestEnded(to)?.start ?? to;
  for (let i = 1; i < DEFAULT_DATES_SHOWN; i++) {
    const earlier = clock.atOrBefore(new Date(from.getTime() - 1));
    if (earlier === null || earlier < new Date(schedule.startDate)) break;
    from = earlier;
  }
  return { from, to };
}

function dateView(logicalDate: string, end: string, date: ScheduleDate | null): ScheduleDateView {
  return {
    logicalDate,
    dataIntervalStart: logicalDate,
    dataIntervalEnd: date?.dataIntervalEnd ?? end,
    state: dateState(date ?? undefined),
    trigger: date?.trigger ?? null,
    attempt: date?.attempt ?? 0,
    runId: date?.runId ?? null,
    runStatus: date?.runStatus ?? null,
    commitSha: date?.commitSha ?? null,
    sweepId: date?.sweepId ?? null,
    waitingSince: date?.waitingSince ?? null,
    reason: date?.lastError ?? null,
  };
}

/**
 * Every logical date of the schedule in the range that is due (its interval has ended, it is
 * within the start and end dates), with its state; dates with no row are missing.
 */
async function datesIn(
  schedule: Schedule,
  range: { from: Date; to: Date },
  services: ScheduleServices,
): Promise<{ dates: ScheduleDateView[]; truncated: boolean }> {
  const clock = clockOf(schedule);
  const now = services.clock();
  const rows = new Map(
    (await services.store.listDates(schedule.id, range.from, range.to, MAX_DATES + 1)).map((d) => [
      d.logicalDate,
      d,
    ]),
  );
  const start = new Date(schedule.startDate);
  const end = schedule.endDate === null ? null : new Date(schedule.endDate);
  const out = new Map<string, ScheduleDateView>();
  let at = clock.atOrAfter(range.from < start ? start : range.from);
  let truncated = false;
  while (at !== null && at <= range.to && (end === null || at <= end)) {
    const interval = clock.interval(at);
    if (interval === null || interval.end > now) break;
    if (out.size >= MAX_DATES) {
      truncated = true;
      break;
    }
    const iso = at.toISOString();
    out.set(iso, dateView(iso, interval.end.toISOString(), rows.get(iso) ?? null));
    at = interval.end;
  }
  // Rows the cron no longer yields (the cron changed) still count.
  for (const [iso, row] of rows) {
    if (!out.has(iso) && out.size < MAX_DATES)
      out.set(iso, dateView(iso, row.dataIntervalEnd, row));
  }
  const dates = [...out.values()].sort((a, b) => a.logicalDate.localeCompare(b.logicalDate));
  return { dates, truncated: truncated || rows.size > MAX_DATES };
}

function toApiSchedule(schedule: Schedule, publicUrl: string, withUpcoming: boolean) {
  const { cursorDate, ...rest } = schedule;
  const id = encodeURIComponent(schedule.id);
  const upcoming: Array<{ logicalDate: string; dueAt: string }> = [];
  if (withUpcoming && cursorDate !== null) {
    const clock = clockOf(schedule);
    const end = schedule.endDate === null ? null : new Date(schedule.endDate);
    let at: Date | null = new Date(cursorDate);
    while (at !== null && upcoming.length < UPCOMING && (end === null || at <= end)) {
      const interval = clock.interval(at);
      if (interval === null) break;
      upcoming.push({ logicalDate: at.toISOString(), dueAt: interval.end.toISOString() });
      at = interval.end;
    }
  }
  return {
    ...rest,
    nextLogicalDate: cursorDate,
    ...(withUpcoming ? { upcoming } : {}),
    links: { self: `${publicUrl}/v1/schedules/${id}`, viewer: `${publicUrl}/schedules/${id}` },
  };
}
