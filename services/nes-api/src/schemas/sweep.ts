/** Sweeps: one notebook over many parameter sets, with one aggregate status. */
import { Type } from 'typebox';
import { LabelsSchema } from './labels.ts';
import { RunSchema } from './run.ts';

const Parameters = Type.Record(Type.String(), Type.Unknown());

export const SweepBodySchema = Type.Object(
  {
    notebook: Type.String({ minLength: 1, maxLength: 2048 }),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    kernel: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    parameters: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Base values every run gets' }),
    ),
    list: Type.Optional(
      Type.Array(Parameters, {
        minItems: 1,
        description: 'One run per item (merged over the base)',
      }),
    ),
    grid: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.Unknown(), { minItems: 1 }), {
        description: 'One run per combination (cartesian product)',
      }),
    ),
    dateRange: Type.Optional(
      Type.Object(
        {
          parameter: Type.String({ minLength: 1 }),
          start: Type.String({ format: 'date' }),
          end: Type.String({ format: 'date' }),
        },
        {
          additionalProperties: false,
          description: 'Backfill: one run per day, start and end included',
        },
      ),
    ),
    allowUnknownParameters: Type.Optional(Type.Boolean()),
    maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    labels: Type.Optional(LabelsSchema),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
  },
  { additionalProperties: false },
);

export const SweepSchema = Type.Object({
  id: Type.String(),
  status: Type.Union([
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
  ]),
  total: Type.Integer(),
  counts: Type.Record(Type.String(), Type.Integer()),
  pendingDates: Type.Integer({
    description: "A schedule's backfill: dates whose run is not created yet (waiting or pending)",
  }),
  runs: Type.Array(RunSchema),
});
