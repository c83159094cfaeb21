/**
 * A notebook's history (scope `read`): GET /v1/history for the notebook page (runs over time,
 * success rate, durations, failure classes, last success, commits), GET /v1/history/results for
 * a numeric result's trend across the notebook's runs.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError } from '../errors.ts';
import { authErrors, ErrorSchema, Nullable } from '../schemas/common.ts';
import { LabelSelectorsSchema, labelsFromSelectors } from '../schemas/labels.ts';
import type { RouteContext } from './context.ts';

const Counts = Type.Record(Type.String(), Type.Integer());

export const HistorySchema = Type.Object({
  notebook: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  since: Type.String({ format: 'date-time' }),
  totals: Counts,
  successRate: Nullable(
    Type.Number({ description: 'succeeded / (succeeded + failed + timed_out)' }),
  ),
  durationSeconds: Type.Object({ p50: Nullable(Type.Number()), p95: Nullable(Type.Number()) }),
  days: Type.Array(
    Type.Object({ day: Type.String(), counts: Counts, p50Seconds: Nullable(Type.Number()) }),
  ),
  failureClasses: Type.Array(Type.Object({ class: Type.String(), count: Type.Integer() })),
  lastSuccess: Nullable(
    Type.Object({
      runId: Type.String(),
      finishedAt: Type.String({ format: 'date-time' }),
      ageSeconds: Type.Integer(),
    }),
  ),
  commits: Type.Array(
    Type.Object({
      commitSha: Nullable(Type.String()),
      runs: Type.Integer(),
      succeeded: Type.Integer(),
      firstAt: Type.String({ format: 'date-time' }),
      lastAt: Type.String({ format: 'date-time' }),
    }),
  ),
  recent: Type.Array(
    Type.Object({
      id: Type.String(),
      status: Type.String(),
      createdAt: Type.String({ format: 'date-time' }),
      durationSeconds: Nullable(Type.Number()),
    }),
  ),
});

const Scope = {
  notebook: Type.String({ minLength: 1, description: 'The notebook as submitted' }),
  label: Type.Optional(LabelSelectorsSchema),
};

export const historyRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const history = ctx.services.history;
  if (!history) return;

  app.get(
    '/v1/history',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A notebook's history: runs over time, success rate, durations, failures, commits",
        tags: ['history'],
        querystring: Type.Object({
          ...Scope,
          days: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 3660, description: 'Window; default 30' }),
          ),
        }),
        response: { 200: HistorySchema, 400: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const q = request.query;
      const since = new Date(Date.now() - (q.days ?? 30) * 86_400_000);
      return history.notebook({
        notebook: q.notebook,
        labels: labelsFromSelectors(q.label),
        since,
      });
    },
  );

  app.get(
    '/v1/history/results',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A numeric result's values across the notebook's latest runs, oldest first",
        tags: ['history'],
        querystring: Type.Object({
          ...Scope,
          name: Type.String({ minLength: 1, maxLength: 128 }),
          limit: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000 })),
        }),
        response: {
          200: Type.Object({
            name: Type.String(),
            points: Type.Array(
              Type.Object({
                runId: Type.String(),
                createdAt: Type.String({ format: 'date-time' }),
                value: Type.Number(),
              }),
            ),
          }),
          400: ErrorSchema,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.name.trim() === '') throw new ApiError(400, 'invalid_request', 'name is empty');
      const points = await history.resultTrend(
        { notebook: q.notebook, labels: labelsFromSelectors(q.label) },
        q.name,
        q.limit ?? 100,
      );
      return { name: q.name, points };
    },
  );
};
