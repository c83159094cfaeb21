/**
 * The few R default literals that map onto JSON without an R parser: `TRUE`/`FALSE`, `NULL`,
 * plain numbers (`1`, `2.5`, `1e3`, `3L`) and single string literals. Vectors and lists give
 * undefined.
 */
import type { JsonValue } from '../nbformat.ts';
import { parsePythonLiteral } from './python-literal.ts';

export function parseRLiteral(text: string): JsonValue | undefined {
  const trimmed = text.trim();
  if (trimmed === 'TRUE' || trimmed === 'T') return true;
  if (trimmed === 'FALSE' || trimmed === 'F') return false;
  if (trimmed === 'NULL') return null;
  const integer = /^-?\d+L$/.exec(trimmed);
  if (integer !== null) return parsePythonLiteral(trimmed.slice(0, -1));
  // Decimal numbers and simple strings are spelled the same in R and Python.
  if (/^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(trimmed)) return parsePythonLiteral(trimmed);
  if (/^"(?:[^"\\]|\\.)*"$|^'(?:[^'\\]|\\.)*'$/s.test(trimmed)) return parsePythonLiteral(trimmed);
  return undefined;
}
