/**
 * Sweeps: the notebook is resolved and every parameter set checked before any run is stored;
 * the runs share a sweep id (their label `nes/sweep`) and the queue `sweep-<id>`, whose limit
 * bounds how many run at once. The sweep's status is computed from its runs.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError, notFound } from '../errors.ts';
import type { Run, RunSpec } from '../runs/run-model.ts';
import { SUBMITTED_BY_LABEL, withSubmitter } from '../runs/submitted-by.ts';
import { authErrors, ErrorSchema } from '../schemas/common.ts';
import { SweepBodySchema, SweepSchema } from '../schemas/sweep.ts';
import { type RouteContext, toApiRun } from './context.ts';
import {
  checkParameters,
  checkParametersSize,
  checkStoredLabels,
  resolveNotebook,
} from './submission.ts';

const MAX_RUNS = 1000;
/** Every run of a sweep carries its sweep id as this label. */
const SWEEP_LABEL = 'nes/sweep';
const DAY_MS = 86_400_000;

export const sweepRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const view = (sweepId: string, runs: Run[], pendingDates = 0) => ({
    id: sweepId,
    ...aggregate(runs, pendingDates),
    pendingDates,
    runs: runs.map((run) => toApiRun(run, ctx.config.publicUrl)),
  });

  /** A sweep's runs, and (a schedule's backfill) how many of its dates have no run yet. */
  const load = async (sweepId: string): Promise<{ runs: Run[]; pendingDates: number }> => {
    const runs: Run[] = [];
    let cursor: string | null = null;
    do {
      const page: { runs: Run[]; nextCursor: string | null } = await ctx.store.listRuns({
        sweepId,
        limit: 500,
        ...(cursor === null ? {} : { cursor }),
      });
      runs.push(...page.runs);
      cursor = page.nextCursor;
    } while (cursor !== null && runs.length < MAX_RUNS);
    const dates = (await ctx.services.schedules?.store.datesOfSweep(sweepId)) ?? [];
    const pendingDates = dates.filter((d) => d.phase === 'pending' || d.phase === 'waiting').length;
    if (runs.length === 0 && dates.length === 0) throw notFound('sweep', sweepId);
    return { runs: runs.reverse(), pendingDates };
  };

  app.post(
    '/v1/sweeps',
    {
      config: { scope: 'submit', submit: true },
      schema: {
        summary: 'Run one notebook over a list or grid of parameter sets, or a date range',
        tags: ['sweeps'],
        body: SweepBodySchema,
        response: {
          201: SweepSchema,
          400: ErrorSchema,
          413: ErrorSchema,
          422: ErrorSchema,
          429: ErrorSchema,
          503: ErrorSchema,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const sets = parameterSets(body);
      const sweepId = `sweep-${randomUUID()}`;
      const labels = withSubmitter({ ...body.labels, [SWEEP_LABEL]: sweepId }, request.token);
      checkStoredLabels(labels, [SWEEP_LABEL, SUBMITTED_BY_LABEL]);
      const { resolved, kernel } = await resolveNotebook(ctx, body);
      sets.forEach((parameters, index) => {
        try {
          checkParametersSize(ctx, parameters);
          checkParameters(
            resolved.notebook,
            kernel,
            parameters,
            body.allowUnknownParameters ?? false,
          );
        } catch (error) {
          if (error instanceof ApiError) {
            throw new ApiError(
              error.statusCode,
              error.code,
              `parameter set ${index}: ${error.message}`,
              {
                index,
                parameters: error.details,
              },
            );
          }
          throw error;
        }
      });
      const runs: Run[] = [];
      await ctx.admission.admit(sets.length, async () => {
        if (body.maxConcurrency !== undefined)
          ctx.services.scheduler.limitQueue?.(sweepId, body.maxConcurrency);
        for (const parameters of sets) {
          const spec: RunSpec = {
            notebook: body.notebook,
            ref: resolved.record.ref ?? body.ref ?? null,
            commitSha: resolved.record.commitSha,
            parameters,
            kernel,
            labels,
            timeoutSeconds: body.timeoutSeconds ?? null,
            resources: null,
            image: null,
            queue: sweepId,
            sweepId,
          };
          const { run } = await ctx.store.createRun(spec);
          ctx.metrics.runsSubmitted.inc();
          ctx.services.bus.publishRun(run);
          ctx.services.scheduler.submitted(run);
          runs.push(run);
        }
      });
      return reply.status(201).send(view(sweepId, runs));
    },
  );

  app.get(
    '/v1/sweeps/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'A sweep: its aggregate status, counts by status and its runs',
        tags: ['sweeps'],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: { 200: SweepSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const { runs, pendingDates } = await load(request.params.id);
      return view(request.params.id, runs, pendingDates);
    },
  );

  app.post(
    '/v1/sweeps/:id/cancel',
    {
      config: { scope: 'submit' },
      schema: {
        summary:
          'Cancel a sweep as a whole: its queued and running runs, and (a backfill) its dates not started yet',
        tags: ['sweeps'],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: { 200: SweepSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const sweepId = request.params.id;
      // Dates first, so the ticker makes no new run for this sweep while its runs are cancelled.
      await ctx.services.schedules?.store.cancelSweepDates(sweepId, new Date());
      const { runs } = await load(sweepId);
      for (const run of runs) {
        if (run.status === 'queued' || run.status === 'starting' || run.status === 'running')
          await ctx.services.scheduler.cancel(run.id);
      }
      const after = await load(sweepId);
      return view(sweepId, after.runs, after.pendingDates);
    },
  );
};

type SweepBody = {
  parameters?: Record<string, unknown>;
  list?: Array<Record<string, unknown>>;
  grid?: Record<string, unknown[]>;
  dateRange?: { parameter: string; start: string; end: string };
};

/** The parameter sets, base values first; exactly one of list, grid or dateRange. */
export function parameterSets(body: SweepBody): Array<Record<string, unknown>> {
  const base = body.parameters ?? {};
  const kinds = [body.list, body.grid, body.dateRange].filter((k) => k !== undefined).length;
  if (kinds !== 1) {
    throw new ApiError(400, 'invalid_request', 'give exactly one of "list", "grid" or "dateRange"');
  }
  let sets: Array<Record<string, unknown>>;
  if (body.list !== undefined) {
    sets = body.list;
  } else if (body.grid !== undefined) {
    sets = [{}];
    for (const [name, values] of Object.entries(body.grid)) {
      sets = sets.flatMap((set) => values.map((value) => ({ ...set, [name]: value })));
      if (sets.length > MAX_RUNS) break;
    }
  } else {
    const range = body.dateRange as NonNullable<SweepBody['dateRange']>;
    const start = Date.parse(`${range.start}T00:00:00Z`);
    const end = Date.parse(`${range.end}T00:00:00Z`);
    if (end < start)
      throw new ApiError(400, 'invalid_request', 'dateRange.end is before dateRange.start');
    sets = [];
    for (let t = start; t <= end && sets.length <= MAX_RUNS; t += DAY_MS) {
      sets.push({ [range.parameter]: new Date(t).toISOString().slice(0, 10) });
    }
  }
  if (sets.length > MAX_RUNS) {
    throw new ApiError(413, 'sweep_too_large', `a sweep runs at most ${MAX_RUNS} parameter sets`);
  }
  return sets.map((set) => ({ ...base, ...set }));
}

function aggregate(
  runs: Run[],
  pendingDates = 0,
): {
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  total: number;
  counts: Record<string, number>;
} {
  const counts: Record<string, number> = {};
  for (const run of runs) counts[run.status] = (counts[run.status] ?? 0) + 1;
  const n = (status: string) => counts[status] ?? 0;
  const active = n('queued') + n('starting') + n('running') + pendingDates;
  let status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  if (active > 0) status = runs.every((r) => r.status === 'queued') ? 'queued' : 'running';
  else if (runs.length > 0 && n('succeeded') === runs.length) status = 'succeeded';
  else if (n('failed') + n('timed_out') > 0) status = 'failed';
  else status = 'cancelled';
  return { status, total: runs.length, counts };
}
