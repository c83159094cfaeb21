/** Liveness, readiness (the database answers) and Prometheus metrics. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError } from '../errors.ts';
import { authErrors, ErrorSchema } from '../schemas/common.ts';
import type { RouteContext } from './context.ts';

const Status = Type.Object({ status: Type.String() });
const READY_TIMEOUT_MS = 2000;

export const healthRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  app.get(
    '/livez',
    {
      schema: {
        summary: 'The process is up',
        tags: ['health'],
        security: [],
        response: { 200: Status },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'The database answers',
        tags: ['health'],
        security: [],
        response: { 200: Status, 503: ErrorSchema },
      },
    },
    async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          ctx.store.listRuns({ limit: 1 }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS);
          }),
        ]);
      } catch (error) {
        throw new ApiError(
          503,
          'not_ready',
          `the run database does not answer (${(error as Error).message})`,
        );
      } finally {
        clearTimeout(timer);
      }
      return { status: 'ready' };
    },
  );

  app.get(
    '/metrics',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Prometheus metrics',
        tags: ['health'],
        response: { 200: Type.String(), ...authErrors },
      },
    },
    async (_request, reply) => {
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );
};
