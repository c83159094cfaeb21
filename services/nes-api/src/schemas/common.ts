import { Type } from 'typebox';

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'Error', description: 'Every 4xx/5xx answer' },
);

/** Responses every authenticated route may give besides its own. */
export const authErrors = {
  401: ErrorSchema,
  403: ErrorSchema,
} as const;

/** A route's error answers by status code (each an ErrorSchema), with those of `authErrors`. */
export function errorResponses<const C extends number>(
  ...codes: C[]
): Record<C, typeof ErrorSchema> & typeof authErrors {
  const answers = Object.fromEntries(codes.map((code) => [code, ErrorSchema]));
  return { ...answers, ...authErrors } as Record<C, typeof ErrorSchema> & typeof authErrors;
}

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);
