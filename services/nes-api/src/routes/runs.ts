/** Submit, get, list, cancel and rerun runs. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../errors.ts';
import { type RunStatus, TERMINAL_STATUSES } from '../runs/run-model.ts';
import {
  CANCEL_REQUESTED_EVENT,
  RERUN_OF_LABEL,
  SUBMITTED_BY_LABEL,
  withSubmitter,
} from '../runs/submitted-by.ts';
import { authErrors, ErrorSchema } from '../schemas/common.ts';
import { labelsFromSelectors } from '../schemas/labels.ts';
import {
  ListRunsQuerySchema,
  RerunBodySchema,
  RunIdParams,
  RunListSchema,
  RunSchema,
  SubmitBodySchema,
} from '../schemas/run.ts';
import { getRunOr404, type RouteContext, resolveRunNotebook, toApiRun } from './context.ts';
import {
  checkIdempotencyKey,
  checkKernel,
  checkParameters,
  checkParametersSize,
  checkStoredLabels,
  prepareSpec,
  requestHash,
  Submitter,
} from './submission.ts';

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ description: 'Same key and body: the same run (200); other body: 409' }),
  ),
});

/** What submit and rerun answer (rerun also 404s; numeric keys keep their order either way). */
const submitResponses = {
  200: RunSchema,
  201: RunSchema,
  400: ErrorSchema,
  409: ErrorSchema,
  413: ErrorSchema,
  422: ErrorSchema,
  429: ErrorSchema,
  503: ErrorSchema,
  ...authErrors,
};

export const runRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const submitter = new Submitter(ctx);
  const view = (run: Parameters<typeof toApiRun>[0]) => toApiRun(run, ctx.config.publicUrl);

  app.post(
    '/v1/runs',
    {
      config: { scope: 'submit', submit: true },
      schema: {
        summary: 'Submit a run',
        tags: ['runs'],
        headers: IdempotencyHeaders,
        body: SubmitBodySchema,
        response: submitResponses,
      },
    },
    async (request, reply) => {
      const started = performance.now();
      let outcome = 'error';
      try {
        const key = checkIdempotencyKey(request.headers['idempotency-key']);
        const { run, created } = await ctx.admission.admit(1, () =>
          submitter.submit(key, requestHash(request.body), async () => {
            const labels = withSubmitter(request.body.labels ?? {}, request.token);
            checkStoredLabels(labels, [SUBMITTED_BY_LABEL]);
            const spec = await prepareSpec(ctx, request.body);
            return { ...spec, labels };
          }),
        );
        outcome = created ? 'created' : 'replayed';
        return reply.status(created ? 201 : 200).send(view(run));
      } finally {
        ctx.metrics.submitDuration.observe({ outcome }, (performance.now() - started) / 1000);
      }
    },
  );

  app.get(
    '/v1/runs/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Get a run',
        tags: ['runs'],
        params: RunIdParams,
        response: { 200: RunSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => view(await getRunOr404(ctx.store, request.params.id)),
  );

  app.get(
    '/v1/runs',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List runs, newest first',
        tags: ['runs'],
        querystring: ListRunsQuerySchema,
        response: { 200: RunListSchema, 400: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const q = request.query;
      const labels = labelsFromSelectors(q.label);
      const page = await ctx.store.listRuns({
        ...(q.status === undefined ? {} : { status: q.status as RunStatus[] }),
        ...(q.notebook === undefined ? {} : { notebook: q.notebook }),
        ...(q.label === undefined ? {} : { labels }),
        ...(q.createdAfter === undefined ? {} : { createdAfter: q.createdAfter }),
        ...(q.createdBefore === undefined ? {} : { createdBefore: q.createdBefore }),
        ...(q.sweepId === undefined ? {} : { sweepId: q.sweepId }),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
        limit: q.limit ?? 50,
      });
      return { runs: page.runs.map(view), nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/v1/runs/:id/cancel',
    {
      config: { scope: 'submit' },
      schema: {
        summary: 'Cancel a run (a finished run is returned unchanged)',
        tags: ['runs'],
        params: RunIdParams,
        response: { 200: RunSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const before = await ctx.store.getRun(request.params.id);
      const run = await ctx.services.scheduler.cancel(request.params.id);
      if (run === null) throw notFound('run', request.params.id);
      // Who asked, in the run's event log (the run row itself stays as submitted): the first
      // request that found the run still going.
      if (
        before !== null &&
        !TERMINAL_STATUSES.includes(before.status) &&
        !before.cancelRequested
      ) {
        await ctx.store.appendEvent(run.id, CANCEL_REQUESTED_EVENT, {
          by: request.token?.name ?? null,
        });
      }
      ctx.services.bus.publishRun(run);
      return view(run);
    },
  );

  app.post(
    '/v1/runs/:id/rerun',
    {
      config: { scope: 'submit', submit: true },
      // No body means no overrides.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: 'Run again with the same commit, parameters and kernel (optional overrides)',
        tags: ['runs'],
        params: RunIdParams,
        headers: IdempotencyHeaders,
        body: RerunBodySchema,
        response: { ...submitResponses, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      const original = await getRunOr404(ctx.store, request.params.id);
      const overrides = request.body;
      const key = checkIdempotencyKey(request.headers['idempotency-key']);
      const hash = requestHash({ rerun: original.id, ...overrides });
      const { run, created } = await ctx.admission.admit(1, () =>
        submitter.submit(key, hash, async () => {
          const labels = withSubmitter(
            { ...(overrides.labels ?? original.labels), [RERUN_OF_LABEL]: original.id },
            request.token,
          );
          checkStoredLabels(labels, [RERUN_OF_LABEL, SUBMITTED_BY_LABEL]);
          const parameters = { ...original.parameters, ...(overrides.parameters ?? {}) };
          if (overrides.parameters !== undefined) {
            checkParametersSize(ctx, parameters);
            // Checked against the notebook at the original commit (GitHub) or as it is now.
            const resolved = await resolveRunNotebook(ctx, original);
            const kernel = await checkKernel(ctx, original.kernel);
            checkParameters(
              resolved.notebook,
              kernel,
              parameters,
              overrides.allowUnknownParameters ?? false,
            );
          }
          return {
            notebook: original.notebook,
            ref: original.ref,
            commitSha: original.commitSha,
            parameters,
            kernel: original.kernel,
            labels,
            timeoutSeconds: overrides.timeoutSeconds ?? original.timeoutSeconds,
            resources: original.resources,
            image: original.image,
            queue: original.queue,
            sweepId: null,
          };
        }),
      );
      return reply.status(created ? 201 : 200).send(view(run));
    },
  );
};
