/** A notebook's declared parameters and the JSON Schema submits are checked with. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { inspectParameters, notebookKernelName, parametersJsonSchema } from '@nes/notebook';
import { Type } from 'typebox';
import { authErrors, ErrorSchema, Nullable } from '../schemas/common.ts';
import type { RouteContext } from './context.ts';

export const InspectResultSchema = Type.Object({
  notebook: Type.String(),
  ref: Nullable(Type.String()),
  commitSha: Nullable(Type.String()),
  kernel: Nullable(Type.String()),
  language: Type.String(),
  parameters: Type.Array(
    Type.Object({
      name: Type.String(),
      type: Nullable(Type.String()),
      default: Type.String(),
      help: Type.String(),
    }),
  ),
  warnings: Type.Array(Type.String()),
  schema: Type.Record(Type.String(), Type.Unknown()),
});

export const inspectRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  app.post(
    '/v1/inspect',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A notebook's parameters (papermill's inspect) and their JSON Schema",
        tags: ['notebooks'],
        body: Type.Object(
          {
            notebook: Type.String({ minLength: 1, maxLength: 2048 }),
            ref: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            kernel: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            allowUnknownParameters: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: {
          200: InspectResultSchema,
          400: ErrorSchema,
          413: ErrorSchema,
          422: ErrorSchema,
          503: ErrorSchema,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { notebook, ref, kernel, allowUnknownParameters } = request.body;
      const resolved = await ctx.resolve(notebook, { ...ctx.services.sourceOptions, ref });
      const kernelName = kernel ?? notebookKernelName(resolved.notebook) ?? null;
      const info = inspectParameters(resolved.notebook, kernelName === null ? {} : { kernelName });
      return {
        notebook,
        ref: resolved.record.ref,
        commitSha: resolved.record.commitSha,
        kernel: kernelName,
        language: info.language,
        parameters: info.parameters,
        warnings: info.warnings,
        schema: parametersJsonSchema(info, { allowUnknown: allowUnknownParameters ?? false }),
      };
    },
  );
};
