/**
 * What a parameter value may be, and how JavaScript values map onto papermill's Python types.
 *
 * papermill receives Python objects and picks a rendering by Python type. JSON parsed in
 * JavaScript loses the int/float distinction (`1.0` and `1` are the same number), so NES decides:
 *
 * - `bigint` is an int (exact, any size).
 * - a `number` that is an integer within +-(2^53 - 1) is an int.
 * - any other `number` (a fraction, NaN, +-Infinity, or an integer too large to be exact) is a
 *   float, rendered like Python's `repr(float)`: `0.1`, `1e-07`, `1e+16`.
 * - a `FloatValue` is a float even when integral: `pythonFloat(1)` renders as Python `1.0`.
 *   The CLI uses it for `-p x 1.0`, and `parseParametersJson` for JSON number text with a
 *   fraction or an exponent.
 */

import { pythonFloatRepr } from './python-float-repr.ts';

// JSON.rawJSON (Node 21+) is not in the TypeScript lib this repository targets.
const rawJson = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

/** A number that must be rendered as a float even when it is integral (`1.0`, not `1`). */
export class FloatValue {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  /**
   * Serialize as a JSON number that keeps its float-ness (`1.0`, not `1`), so a stored run's
   * parameters read back with `parseParametersJson` render the same. +-Infinity is written
   * `1e400` / `-1e400` (valid JSON that reads back as the same float); NaN, which JSON cannot
   * express, becomes `null`.
   */
  toJSON(): unknown {
    if (Number.isNaN(this.value)) return null;
    if (!Number.isFinite(this.value)) return rawJson(this.value > 0 ? '1e400' : '-1e400');
    return rawJson(pythonFloatRepr(this.value));
  }
}

/** Mark `value` as a float: `pythonFloat(1)` is injected as Python `1.0`. */
export function pythonFloat(value: number): FloatValue {
  return new FloatValue(value);
}

/** A value a translator cannot express (papermill raises NotImplementedError for these). */
export class UnsupportedParameterValueError extends Error {
  readonly code = 'unsupported_value';
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedParameterValueError';
  }
}

/** A parameter value sorted into papermill's Python type buckets. */
export type ClassifiedValue =
  | { kind: 'none' }
  | { kind: 'string'; value: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'int'; value: bigint }
  | { kind: 'float'; value: number }
  | { kind: 'list'; items: readonly unknown[] }
  | { kind: 'dict'; entries: ReadonlyArray<readonly [string, unknown]> };

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Sort a value into papermill's type buckets; anything that is not JSON-like is refused. */
export function classifyValue(value: unknown): ClassifiedValue {
  if (value === null) return { kind: 'none' };
  switch (typeof value) {
    case 'string':
      return { kind: 'string', value };
    case 'boolean':
      return { kind: 'bool', value };
    case 'bigint':
      return { kind: 'int', value };
    case 'number':
      return Number.isSafeInteger(value) && !Object.is(value, -0)
        ? { kind: 'int', value: BigInt(value) }
        : { kind: 'float', value };
    case 'object':
      if (value instanceof FloatValue) return { kind: 'float', value: value.value };
      if (Array.isArray(value)) return { kind: 'list', items: value };
      if (isPlainObject(value)) return { kind: 'dict', entries: Object.entries(value) };
      // An ordered dict (parseParametersJson, YAML): keys that a plain object would reorder.
      if (value instanceof Map)
        return {
          kind: 'dict',
          entries: [...value.entries()].map(([k, v]) => [String(k), v] as const),
        };
      break;
  }
  throw new UnsupportedParameterValueError(
    `parameter values must be JSON-like (null, string, boolean, number, bigint, FloatValue, array, plain object or Map); got ${describe(value)}`,
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object';
  return typeof value;
}
