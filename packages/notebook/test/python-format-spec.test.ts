import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parameterizePath } from '../src/path-template.ts';
import { formatWithSpec } from '../src/python-format-spec.ts';
import { pythonFloat } from '../src/translators/index.ts';
import { BIG_CASES, FLOAT_CASES, INT_CASES, OTHER_CASES } from './python-format-spec.cases.ts';

const str = (value: unknown) =>
  typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value);

function check(value: unknown, spec: string, expected: string | null, label: string): void {
  let got: string | null;
  try {
    got = formatWithSpec(value, spec, str);
  } catch {
    got = null;
  }
  assert.equal(got, expected, `format(${label}, '${spec}')`);
}

describe("Python's format-spec mini-language (CPython's answers)", () => {
  test('ints', () => {
    for (const [value, cases] of INT_CASES) {
      for (const [spec, expected] of cases) check(value, spec, expected, String(value));
    }
  });

  test('floats: rounding ties to even on the exact binary value, g/e/f/%, signs, alignment', () => {
    for (const [value, cases] of FLOAT_CASES) {
      for (const [spec, expected] of cases) {
        check(pythonFloat(value), spec, expected, String(value));
      }
    }
  });

  test('strings, bools and big integers', () => {
    for (const [value, cases] of OTHER_CASES) {
      for (const [spec, expected] of cases) check(value, spec, expected, JSON.stringify(value));
    }
    for (const [value, spec, expected] of BIG_CASES) check(value, spec, expected, String(value));
  });

  test("papermill's path tests: {baz:03d} and {baz:.03f}", () => {
    assert.equal(parameterizePath('foo/bar/{baz:03d}', { baz: 42 }), 'foo/bar/042');
    assert.equal(parameterizePath('foo/bar/{baz:.03f}', { baz: 0.3 }), 'foo/bar/0.300');
    assert.throws(() => parameterizePath('{baz:d}', { baz: 'x' }), /Unknown format code 'd'/);
    assert.throws(() => parameterizePath('{baz:03d}', { baz: null }), /NoneType/);
  });
});
