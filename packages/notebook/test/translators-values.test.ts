/** The int/float decision for JavaScript values, and JSON that keeps it across a round trip. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FloatValue,
  parseParametersJson,
  pythonFloat,
  stringifyParametersJson,
  translateParameters,
} from '../src/translators/index.ts';

const python = (value: unknown) =>
  translateParameters({ language: 'python', parameters: { x: value }, comment: '' }).slice(6, -1);

describe('int or float', () => {
  const rows: ReadonlyArray<readonly [unknown, string]> = [
    [1, '1'],
    [pythonFloat(1), '1.0'],
    [1.5, '1.5'],
    [pythonFloat(1.5), '1.5'],
    [2 ** 53 - 1, '9007199254740991'],
    [2 ** 53, '9007199254740992.0'], // past exact integers: a float, as JSON text like 1e300 is
    [1e300, '1e+300'],
    [-0, '-0.0'],
    [2n ** 64n, '18446744073709551616'],
  ];
  for (const [input, expected] of rows) {
    test(`${String(input)} -> ${expected}`, () => assert.equal(python(input), expected));
  }
});

describe('parseParametersJson', () => {
  test('a fraction or exponent makes an integral number a float; big ints stay exact', () => {
    const parsed = parseParametersJson(
      '{"a": 1.0, "b": 1, "c": 1e2, "d": 1.5, "e": 12345678901234567890, "f": -0, "g": -0.0, "h": [2.0]}',
    );
    assert.equal(
      translateParameters({ language: 'python', parameters: parsed as Record<string, unknown> }),
      '# Parameters\na = 1.0\nb = 1\nc = 100.0\nd = 1.5\ne = 12345678901234567890\nf = 0\ng = -0.0\nh = [2.0]\n',
    );
    assert.ok((parsed as { a: unknown }).a instanceof FloatValue);
    assert.equal((parsed as { d: unknown }).d, 1.5); // non-integral floats stay plain numbers
  });

  test('round-trips through stringifyParametersJson and plain JSON.stringify', () => {
    const value = { a: pythonFloat(1), b: 2n ** 64n, c: [pythonFloat(-0), 0.5, 'x'] };
    const text = stringifyParametersJson(value);
    assert.equal(text, '{"a":1.0,"b":18446744073709551616,"c":[-0.0,0.5,"x"]}');
    assert.equal(
      JSON.stringify({ a: pythonFloat(3), n: pythonFloat(Number.NaN) }),
      '{"a":3.0,"n":null}',
    );
    const again = parseParametersJson(text);
    assert.equal(
      translateParameters({ language: 'python', parameters: again as Record<string, unknown> }),
      translateParameters({ language: 'python', parameters: value }),
    );
  });

  test('rejects invalid JSON like JSON.parse', () => {
    assert.throws(() => parseParametersJson('{'), SyntaxError);
  });
});
