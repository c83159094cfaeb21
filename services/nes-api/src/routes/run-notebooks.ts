/** A run's output notebook (the live autosaved one while it runs) and its input notebook. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { isStoreError, NOTEBOOK_CONTENT_TYPE, RunArtifacts } from '@nes/stores';
import { Type } from 'typebox';
import { ApiError } from '../errors.ts';
import { type Run, TERMINAL_STATUSES } from '../runs/run-model.ts';
import { authErrors, ErrorSchema } from '../schemas/common.ts';
import { RunIdParams } from '../schemas/run.ts';
import { getRunOr404, type RouteContext, resolveRunNotebook } from './context.ts';
import { asStoreDownload } from './store-content.ts';

/** Both notebook routes: readable with a ?token= link, answering a notebook or 404. */
const notebookRoute = (summary: string) => ({
  config: { scope: 'read' as const, queryToken: true },
  schema: {
    summary,
    tags: ['runs'],
    params: RunIdParams,
    querystring: Type.Object({ token: Type.Optional(Type.String()) }),
    response: {
      200: Type.Unknown({ description: 'The notebook (nbformat 4 JSON)' }),
      404: ErrorSchema,
      ...authErrors,
    },
  },
});

export const runNotebookRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const objects = ctx.services.artifacts;

  /** The key of a run's output: its recorded URI when it lies in this store, else the default. */
  const outputKey = (run: Run): string => {
    const prefix = objects.uri;
    if (run.outputUri?.startsWith(prefix)) return run.outputUri.slice(prefix.length);
    return new RunArtifacts(objects, run.id).keys.output;
  };

  app.get(
    '/v1/runs/:id/notebook',
    notebookRoute('The output notebook (autosaved while the run is running)'),
    async (request, reply) => {
      const run = await getRunOr404(ctx.store, request.params.id);
      const key = outputKey(run);
      const info = await objects.stat(key);
      if (info === null) {
        throw new ApiError(
          404,
          'notebook_not_available',
          `run ${run.id} has no output notebook yet (status ${run.status})`,
          {
            status: run.status,
          },
        );
      }
      asStoreDownload(reply, key)
        .type(NOTEBOOK_CONTENT_TYPE)
        .header(
          'cache-control',
          TERMINAL_STATUSES.includes(run.status) ? 'private, max-age=60' : 'no-store',
        )
        .header('x-nes-run-status', run.status);
      return reply.send(await objects.getStream(key));
    },
  );

  app.get(
    '/v1/runs/:id/input',
    notebookRoute('The input notebook as fetched at the recorded commit'),
    async (request, reply) => {
      const run = await getRunOr404(ctx.store, request.params.id);
      const key = new RunArtifacts(objects, run.id).keys.input;
      asStoreDownload(reply, key).type(NOTEBOOK_CONTENT_TYPE);
      try {
        return reply.send(await objects.get(key));
      } catch (error) {
        if (!isStoreError(error, 'not_found')) throw error;
      }
      // Not stored (yet): read it again at the recorded commit.
      const resolved = await resolveRunNotebook(ctx, run);
      return reply.send(Buffer.from(resolved.bytes));
    },
  );
};
