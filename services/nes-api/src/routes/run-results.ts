/** GET /v1/runs/{id}/results: what a run's notebook recorded (nes.record, nes.exit, sb.glue). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NO_RESULTS, resultsDocument } from '@nes/runner';
import { Type } from 'typebox';
import { TERMINAL_STATUSES } from '../runs/run-model.ts';
import { loadRunResults } from '../runs/run-results.ts';
import { authErrors, ErrorSchema } from '../schemas/common.ts';
import { RunIdParams } from '../schemas/run.ts';
import { getRunOr404, type RouteContext } from './context.ts';

const ResultSchema = Type.Object({
  name: Type.String(),
  kind: Type.Union([Type.Literal('value'), Type.Literal('display'), Type.Literal('encoded')], {
    description:
      'value: a JSON value; display: display data (a DataFrame, a figure) kept in the notebook ' +
      'at cellIndex/outputIndex; encoded: a scrapbook encoding NES does not decode, in the notebook',
  }),
  value: Type.Optional(Type.Unknown()),
  cellIndex: Type.Integer({ description: 'Index of the cell in the output notebook' }),
  outputIndex: Type.Integer(),
  mimeTypes: Type.Optional(Type.Array(Type.String())),
  encoder: Type.Optional(Type.String()),
  omitted: Type.Optional(Type.String({ description: 'Why the value is not kept here' })),
});

export const RunResultsSchema = Type.Object(
  {
    runId: Type.String(),
    status: Type.String(),
    /** False while the run has not finished: results are collected when it does. */
    complete: Type.Boolean(),
    values: Type.Record(Type.String(), Type.Unknown(), {
      description: 'The JSON values by name (what XCom and scripts usually want)',
    }),
    results: Type.Array(ResultSchema),
    exit: Type.Union([
      Type.Object(
        { value: Type.Unknown(), cellIndex: Type.Integer() },
        { description: 'nes.exit(value): the run ended at that cell, successfully' },
      ),
      Type.Null(),
    ]),
    dropped: Type.Array(Type.String(), {
      description: 'Results not kept: past 1,000 results or 1 MiB of values',
    }),
    links: Type.Object({ run: Type.String(), notebook: Type.String() }),
  },
  { $id: 'RunResults' },
);

export const runResultRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  app.get(
    '/v1/runs/:id/results',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A run's results: what its notebook recorded",
        tags: ['runs'],
        params: RunIdParams,
        response: { 200: RunResultsSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const run = await getRunOr404(ctx.store, request.params.id);
      const complete = TERMINAL_STATUSES.includes(run.status);
      const results = await loadRunResults(ctx.store, ctx.services.artifacts, run.id, complete);
      const id = encodeURIComponent(run.id);
      return {
        runId: run.id,
        status: run.status,
        complete,
        ...resultsDocument(results ?? NO_RESULTS),
        links: {
          run: `${ctx.config.publicUrl}/v1/runs/${id}`,
          notebook: `${ctx.config.publicUrl}/v1/runs/${id}/notebook`,
        },
      };
    },
  );
};
