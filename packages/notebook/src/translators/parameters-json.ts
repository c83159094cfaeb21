/**
 * JSON text to parameter values without losing what Python would see.
 *
 * `JSON.parse` turns `1.0` into `1` and `12345678901234567890` into an inexact float. papermill
 * reads JSON/YAML with Python, where `1.0` stays a float and big integers stay exact, so this
 * parser uses each number's source text: an integral number written with a fraction or an
 * exponent becomes a `FloatValue`, an integer beyond 2^53 becomes a `bigint`.
 */
import { FloatValue } from './parameter-values.ts';

interface ReviverContext {
  source?: string;
}

function reviveNumber(value: number, source: string | undefined): unknown {
  if (source === undefined) return value;
  const writtenAsFloat = /[.eE]/.test(source);
  if (writtenAsFloat) return Number.isInteger(value) ? new FloatValue(value) : value;
  if (!Number.isSafeInteger(value)) return BigInt(source);
  // Python reads `-0` as the int 0; only `-0.0` is a negative zero.
  return value === 0 ? 0 : value;
}

/** Parse JSON keeping Python's int/float distinction (see the module comment). */
export function parseParametersJson(text: string): unknown {
  return JSON.parse(text, function revive(_key: string, value: unknown, context?: ReviverContext) {
    return typeof value === 'number' ? reviveNumber(value, context?.source) : value;
  });
}

/** JSON.stringify that writes bigints as exact integers and FloatValues as `1.0`. */
export function stringifyParametersJson(value: unknown, indent?: number): string {
  const rawJson = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;
  return JSON.stringify(
    value,
    (_key, item: unknown) => (typeof item === 'bigint' ? rawJson(item.toString()) : item),
    indent,
  );
}
