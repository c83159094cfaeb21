/** The run object (design.md "Contract") and the bodies and queries of the run routes. */
import { Type } from 'typebox';
import { Nullable } from './common.ts';
import { LabelSelectorsSchema, LabelsSchema } from './labels.ts';

const RunStatusSchema = Type.Union([
  Type.Literal('queued'),
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
  Type.Literal('timed_out'),
]);

const Labels = LabelsSchema;

const Parameters = Type.Record(Type.String(), Type.Unknown(), {
  description: 'Parameter values by name, injected the way papermill does',
});

const FailureClassSchema = Type.Union([
  Type.Literal('cell_error'),
  Type.Literal('timeout'),
  Type.Literal('kernel_died'),
  Type.Literal('oom'),
  Type.Literal('cancelled'),
  Type.Literal('source'),
  Type.Literal('infra'),
]);

export const RunSchema = Type.Object(
  {
    id: Type.String(),
    status: RunStatusSchema,
    notebook: Type.String(),
    ref: Nullable(Type.String()),
    commitSha: Nullable(Type.String()),
    parameters: Parameters,
    kernel: Nullable(Type.String()),
    labels: Type.Record(Type.String(), Type.String()),
    timeoutSeconds: Nullable(Type.Number()),
    resources: Nullable(Type.Record(Type.String(), Type.Unknown())),
    image: Nullable(Type.String()),
    queue: Type.String(),
    sweepId: Nullable(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Nullable(Type.String({ format: 'date-time' })),
    finishedAt: Nullable(Type.String({ format: 'date-time' })),
    progress: Type.Object({
      cellsDone: Type.Integer(),
      cellsTotal: Type.Integer(),
      currentCell: Nullable(Type.Integer()),
    }),
    error: Nullable(
      Type.Object({
        class: FailureClassSchema,
        ename: Type.String(),
        evalue: Type.String(),
        cellIndex: Nullable(
          Type.Integer({
            description:
              "Index of the failed cell in the output notebook's cells (papermill's error cells included)",
          }),
        ),
        cellNumber: Type.Optional(
          Nullable(
            Type.Integer({
              description:
                "The failed cell as its author counts it: position (from 1) among the notebook's own code cells, without the injected parameters cell",
            }),
          ),
        ),
      }),
    ),
    outputUri: Nullable(Type.String()),
    cancelRequested: Type.Boolean(),
    links: Type.Object({
      self: Type.String(),
      notebook: Type.String(),
      results: Type.String({
        description: 'What the notebook recorded: GET /v1/runs/{id}/results',
      }),
      viewer: Type.String(),
    }),
  },
  { $id: 'Run' },
);

export const SubmitBodySchema = Type.Object(
  {
    notebook: Type.String({
      minLength: 1,
      maxLength: 2048,
      description:
        'github://owner/repo/path.ipynb, https://github.com/o/r/blob/REF/path, gs://bucket/path.ipynb, or a local path under NES_NOTEBOOK_ROOTS',
    }),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    parameters: Type.Optional(Parameters),
    allowUnknownParameters: Type.Optional(
      Type.Boolean({
        description: "Accept parameters the notebook's parameters cell does not declare",
      }),
    ),
    kernel: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    labels: Type.Optional(Labels),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
    resources: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    queue: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' })),
  },
  { additionalProperties: false },
);

export const RerunBodySchema = Type.Object(
  {
    parameters: Type.Optional(Parameters),
    allowUnknownParameters: Type.Optional(Type.Boolean()),
    labels: Type.Optional(Labels),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
  },
  {
    additionalProperties: false,
    description:
      'Overrides: parameters are merged over the original ones, labels replace them; the notebook, commit and kernel stay',
  },
);

export const RunIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

export const ListRunsQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.Array(RunStatusSchema, { description: 'Repeatable: any of them' })),
    notebook: Type.Optional(Type.String()),
    label: Type.Optional(LabelSelectorsSchema),
    createdAfter: Type.Optional(Type.String({ format: 'date-time' })),
    createdBefore: Type.Optional(Type.String({ format: 'date-time' })),
    sweepId: Type.Optional(Type.String()),
    cursor: Type.Optional(Type.String()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);

export const RunListSchema = Type.Object({
  runs: Type.Array(RunSchema),
  nextCursor: Nullable(Type.String()),
});
