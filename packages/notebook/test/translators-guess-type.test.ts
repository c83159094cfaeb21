/** papermill's `-p` value typing, cross-checked against Python's own int() and float(). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FloatValue, guessParameterType, translateParameters } from '../src/translators/index.ts';

const PYTHON = join(import.meta.dirname, '..', '..', '..', '.tools', 'py', 'bin', 'python');

const INPUTS = [
  'True',
  'False',
  'None',
  'true',
  'none',
  'null',
  '1',
  '-1',
  '+7',
  ' 42 ',
  '007',
  '1_000',
  '1__0',
  '_1',
  '12345678901234567890',
  '1.0',
  '1.5',
  '-0.0',
  '.5',
  '5.',
  '1e3',
  '1E-7',
  '1_0.5',
  'inf',
  '-Infinity',
  'NaN',
  'nan',
  'infinity',
  'infinit',
  '٣',
  '١٢.٥',
  '𝟗',
  '0x10',
  '1j',
  '',
  ' ',
  'abc',
  '1,000',
  '1.2.3',
  'e5',
  '--1',
  '"1"',
  '\t3\n',
];

/** What Python would inject for each input: its type name and the papermill rendering. */
function describeGuess(text: string): [string, string] {
  const value = guessParameterType(text);
  const type =
    value === null
      ? 'NoneType'
      : typeof value === 'boolean'
        ? 'bool'
        : typeof value === 'string'
          ? 'str'
          : typeof value === 'bigint' || Number.isSafeInteger(value)
            ? 'int'
            : value instanceof FloatValue || typeof value === 'number'
              ? 'float'
              : 'other';
  const cell = translateParameters({ language: 'python', parameters: { x: value }, comment: '' });
  return [type, cell.slice('#\nx = '.length, -1)];
}

test('guessParameterType agrees with papermill _resolve_type', {
  skip: !existsSync(PYTHON),
}, () => {
  const script = [
    'import json, sys, math',
    'def is_(f, v):',
    '    try: f(v)',
    '    except ValueError: return False',
    '    return True',
    'def resolve(v):',
    '    if v == "True": return True',
    '    if v == "False": return False',
    '    if v == "None": return None',
    '    if is_(int, v): return int(v)',
    '    if is_(float, v): return float(v)',
    '    return v',
    'def render(v):',
    '    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)',
    '    if isinstance(v, float) and not math.isfinite(v):',
    '        return "float(\'nan\')" if math.isnan(v) else ("float(\'-inf\')" if v < 0 else "float(\'inf\')")',
    '    return repr(v)',
    'out = []',
    'for text in json.load(sys.stdin):',
    '    v = resolve(text)',
    '    out.append([type(v).__name__, render(v)])',
    'print(json.dumps(out, ensure_ascii=False))',
  ].join('\n');
  const result = spawnSync(PYTHON, ['-c', script], {
    input: JSON.stringify(INPUTS),
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  const expected = JSON.parse(result.stdout) as Array<[string, string]>;
  INPUTS.forEach((text, index) => {
    const [type, rendered] = describeGuess(text);
    const [expectedType, expectedRendered] = expected[index] ?? ['', ''];
    assert.equal(type, expectedType, `type of ${JSON.stringify(text)}`);
    // Strings are compared as values (papermill's escaping is tested elsewhere).
    if (type === 'str') assert.equal(guessParameterType(text), text);
    else assert.equal(rendered, expectedRendered, `rendering of ${JSON.stringify(text)}`);
  });
});

test('integral floats are marked so they stay floats', () => {
  assert.ok(guessParameterType('1.0') instanceof FloatValue);
  assert.equal(guessParameterType('1.5'), 1.5);
  assert.equal(guessParameterType('2'), 2);
  assert.equal(guessParameterType('hello'), 'hello');
});
