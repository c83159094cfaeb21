/**
 * Cross-checks against real Python: the float layout, the unicode_escape and shlex.quote ports,
 * and that generated Python cells parse and evaluate to the intended values and types.
 * Skipped when the repository's Python venv is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FloatValue, pythonFloat, translateParameters } from '../src/translators/index.ts';
import { pythonFloatRepr } from '../src/translators/python-float-repr.ts';
import { pythonUnicodeEscape, shellQuote } from '../src/translators/string-escapes.ts';

const PYTHON = join(import.meta.dirname, '..', '..', '..', '.tools', 'py', 'bin', 'python');
const skip = existsSync(PYTHON) ? false : 'no Python venv at .tools/py';

/** Run `script` with `input` as JSON on stdin; the script prints one JSON document. */
function runPython(script: string, input: unknown): unknown {
  const result = spawnSync(PYTHON, ['-c', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** A small deterministic generator, so failures reproduce. */
function* randomDoubles(count: number): Generator<number> {
  let state = 0x2545f491;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < count; i++) {
    const exponent = Math.floor(next() * 80) - 40;
    const sign = next() < 0.5 ? -1 : 1;
    const roundTo = Math.floor(next() * 18);
    const raw = sign * next() * 10 ** exponent;
    yield i % 3 === 0 ? Number(raw.toPrecision(roundTo + 1)) : raw;
  }
}

describe('against Python', { skip }, () => {
  test('pythonFloatRepr matches repr(float) on edge cases and 3000 random doubles', () => {
    const edges = [
      0.1,
      0.5,
      1,
      -1,
      100,
      1e15,
      1e16,
      1e17,
      1.2345678901234568e17,
      1e21,
      1e22,
      1e-4,
      1e-5,
      1.5e-5,
      0.00012345,
      5e-324,
      2.2250738585072014e-308,
      1.7976931348623157e308,
      2 ** 53,
      2 ** 53 + 2,
      0.30000000000000004,
      1 / 3,
      2 / 3,
      123.456,
      -0.000001,
      4.35,
      1e100,
    ];
    const values = [...edges, ...randomDoubles(3000)];
    const expected = runPython(
      'import json,sys; print(json.dumps([repr(float(x)) for x in json.load(sys.stdin)]))',
      values,
    );
    assert.deepEqual(values.map(pythonFloatRepr), expected);
  });

  test('pythonUnicodeEscape matches unicode_escape; shellQuote matches shlex.quote', () => {
    const strings = [
      '',
      'plain',
      'quote " and \' and \\',
      'tab\t nl\n cr\r bell\u0007 del\u007f nbsp\u00a0',
      'é ü ß ÿ Ā € 日本 😀 👍🏽',
      '\ud800 lone \udfff surrogates',
      'a@%+=:,./-b_9',
      "it's $HOME `cmd` *",
      '\u0000\u001f\u0080\u00ff\u0100\uffff',
    ];
    const expected = runPython(
      [
        'import json,sys,shlex',
        'xs = json.load(sys.stdin)',
        "print(json.dumps([[x.encode('unicode_escape').decode('utf-8'), shlex.quote(x)] for x in xs]))",
      ].join('\n'),
      strings,
    );
    assert.deepEqual(
      strings.map((text) => [pythonUnicodeEscape(text), shellQuote(text)]),
      expected,
    );
  });

  test('generated Python cells parse and evaluate to the same values with the same types', () => {
    const samples: Array<Record<string, unknown>> = [
      { s: 'foo', i: 1, f: 1.5, b: true, n: null },
      { quotes: 'a "b" \'c\' \\d', lines: 'x\ny\r\n\tz', unicode: 'café €😀 \u0000' },
      { ints: [0, -1, 2 ** 53 - 1, 12345678901234567890n], big: -(2n ** 70n) },
      { floats: [0.1, 1e-7, 1e16, 1e22, -0, pythonFloat(1), pythonFloat(-3), 5e-324] },
      { nested: { a: [1, { b: [null, [], {}] }], 'key "q"': { é: false } } },
      { empty_list: [], empty_dict: {}, empty_string: '' },
      { special: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY] },
    ];
    const cells = samples.map((parameters) =>
      translateParameters({ language: 'python', parameters }),
    );
    const evaluated = runPython(
      [
        'import ast,json,math,sys',
        'def tag(v):',
        '    if v is None: return ["none"]',
        '    if isinstance(v, bool): return ["bool", v]',
        '    if isinstance(v, int): return ["int", str(v)]',
        '    if isinstance(v, float): return ["float", repr(v)]',
        '    if isinstance(v, str): return ["str", v]',
        '    if isinstance(v, list): return ["list", [tag(x) for x in v]]',
        '    if isinstance(v, dict): return ["dict", [[k, tag(x)] for k, x in v.items()]]',
        '    return ["other", repr(v)]',
        'out = []',
        'for code in json.load(sys.stdin):',
        '    ast.parse(code)',
        '    ns = {}',
        '    exec(code, ns)',
        "    out.append([[k, tag(v)] for k, v in ns.items() if k != '__builtins__'])",
        'print(json.dumps(out))',
      ].join('\n'),
      cells,
    );
    const pythonFloatText = (value: number) =>
      Number.isFinite(value)
        ? pythonFloatRepr(value)
        : String(value).replace('Infinity', 'inf').replace('NaN', 'nan');
    const tag = (value: unknown): unknown => {
      if (value === null) return ['none'];
      if (typeof value === 'boolean') return ['bool', value];
      if (typeof value === 'bigint') return ['int', value.toString()];
      if (value instanceof FloatValue) return ['float', pythonFloatText(value.value)];
      if (typeof value === 'number') {
        return Number.isSafeInteger(value) && !Object.is(value, -0)
          ? ['int', String(value)]
          : ['float', pythonFloatText(value)];
      }
      if (typeof value === 'string') return ['str', value];
      if (Array.isArray(value)) return ['list', value.map(tag)];
      return ['dict', Object.entries(value as object).map(([key, item]) => [key, tag(item)])];
    };
    assert.deepEqual(
      evaluated,
      samples.map((parameters) =>
        Object.entries(parameters).map(([key, value]) => [key, tag(value)]),
      ),
    );
  });
});
