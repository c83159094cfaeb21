/**
 * Value and cell tables per language. Rows marked (papermill) come from papermill's own
 * test_translators.py; the others cover what its tables do not (non-finite floats, unicode,
 * empty containers, int/float markers, 64-bit ints).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  findTranslator,
  pythonFloat,
  renderValue,
  translateParameters,
  UnsupportedLanguageError,
  UnsupportedParameterValueError,
} from '../src/translators/index.ts';

type Row = readonly [input: unknown, expected: string];

function valueTable(kernelName: string, rows: readonly Row[]): void {
  describe(`${kernelName} values`, () => {
    const { syntax } = findTranslator(kernelName);
    for (const [input, expected] of rows) {
      test(`${inspect(input, { breakLength: Number.POSITIVE_INFINITY })} -> ${expected}`, () => {
        assert.equal(renderValue(syntax, input), expected);
      });
    }
  });
}

function cellTable(
  kernelName: string,
  rows: ReadonlyArray<readonly [Record<string, unknown>, string]>,
): void {
  test(`${kernelName} cells`, () => {
    for (const [parameters, expected] of rows) {
      assert.equal(translateParameters({ kernelName, parameters }), expected);
    }
  });
}

function commentTable(kernelName: string, rows: readonly (readonly [string, string])[]): void {
  test(`${kernelName} comments`, () => {
    for (const [text, expected] of rows) {
      assert.equal(findTranslator(kernelName).comment(text), expected);
    }
  });
}

const NAN = Number.NaN;
const INF = Number.POSITIVE_INFINITY;

valueTable('python', [
  // (papermill)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{\\"foo\\": \\"bar\\"}"'],
  [{ foo: 'bar' }, '{"foo": "bar"}'],
  [{ foo: '"bar"' }, '{"foo": "\\"bar\\""}'],
  [{ foo: ['bar'] }, '{"foo": ["bar"]}'],
  [{ foo: { bar: 'baz' } }, '{"foo": {"bar": "baz"}}'],
  [{ foo: { bar: '"baz"' } }, '{"foo": {"bar": "\\"baz\\""}}'],
  [['foo'], '["foo"]'],
  [['foo', '"bar"'], '["foo", "\\"bar\\""]'],
  [[{ foo: 'bar' }], '[{"foo": "bar"}]'],
  [[{ foo: '"bar"' }], '[{"foo": "\\"bar\\""}]'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [NAN, "float('nan')"],
  [-INF, "float('-inf')"],
  [INF, "float('inf')"],
  [true, 'True'],
  [false, 'False'],
  [null, 'None'],
  // NES additions
  [[], '[]'],
  [{}, '{}'],
  [pythonFloat(1), '1.0'],
  [pythonFloat(-0), '-0.0'],
  [-0, '-0.0'],
  [1e-7, '1e-07'],
  [0.1, '0.1'],
  [1e16 + 0.5, '1e+16'],
  [123456789012345680000, '1.2345678901234568e+20'],
  [12345678901234567890n, '12345678901234567890'],
  ["it's", '"it\'s"'],
  ['tab\tnew\nline\\', '"tab\\tnew\\nline\\\\"'],
  ['café €😀', '"caf\\xe9 \\u20ac\\U0001f600"'],
  ['\u0000\u007f', '"\\x00\\x7f"'],
  [{ 'k"': [1, [null, {}]] }, '{"k\\"": [1, [None, {}]]}'],
]);

valueTable('R', [
  // (papermill)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{\\"foo\\": \\"bar\\"}"'],
  [{ foo: 'bar' }, 'list("foo" = "bar")'],
  [{ foo: '"bar"' }, 'list("foo" = "\\"bar\\"")'],
  [{ foo: ['bar'] }, 'list("foo" = list("bar"))'],
  [{ foo: { bar: 'baz' } }, 'list("foo" = list("bar" = "baz"))'],
  [{ foo: { bar: '"baz"' } }, 'list("foo" = list("bar" = "\\"baz\\""))'],
  [['foo'], 'list("foo")'],
  [['foo', '"bar"'], 'list("foo", "\\"bar\\"")'],
  [[{ foo: 'bar' }], 'list(list("foo" = "bar"))'],
  [[{ foo: '"bar"' }], 'list(list("foo" = "\\"bar\\""))'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [true, 'TRUE'],
  [false, 'FALSE'],
  [null, 'NULL'],
  // NES additions: R's own spellings where papermill would write Python's `nan`
  [NAN, 'NaN'],
  [INF, 'Inf'],
  [-INF, '-Inf'],
  [[], 'list()'],
  [{}, 'list()'],
  [pythonFloat(2), '2.0'],
  ['é', '"\\xe9"'],
]);

valueTable('scala', [
  // (papermill)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{\\"foo\\": \\"bar\\"}"'],
  [{ foo: 'bar' }, 'Map("foo" -> "bar")'],
  [{ foo: '"bar"' }, 'Map("foo" -> "\\"bar\\"")'],
  [{ foo: ['bar'] }, 'Map("foo" -> Seq("bar"))'],
  [{ foo: { bar: 'baz' } }, 'Map("foo" -> Map("bar" -> "baz"))'],
  [{ foo: { bar: '"baz"' } }, 'Map("foo" -> Map("bar" -> "\\"baz\\""))'],
  [['foo'], 'Seq("foo")'],
  [['foo', '"bar"'], 'Seq("foo", "\\"bar\\"")'],
  [[{ foo: 'bar' }], 'Seq(Map("foo" -> "bar"))'],
  [[{ foo: '"bar"' }], 'Seq(Map("foo" -> "\\"bar\\""))'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [2147483648, '2147483648L'],
  [-2147483649, '-2147483649L'],
  [true, 'true'],
  [false, 'false'],
  [null, 'None'],
  // NES additions
  [2147483647, '2147483647'],
  [-2147483648, '-2147483648'],
  [NAN, 'Double.NaN'],
  [-INF, 'Double.NegativeInfinity'],
  [[], 'Seq()'],
  [{}, 'Map()'],
]);

valueTable('.net-csharp', [
  // (papermill)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{\\"foo\\": \\"bar\\"}"'],
  [{ foo: 'bar' }, 'new Dictionary<string,Object>{ { "foo" , "bar" } }'],
  [{ foo: '"bar"' }, 'new Dictionary<string,Object>{ { "foo" , "\\"bar\\"" } }'],
  [['foo'], 'new [] { "foo" }'],
  [['foo', '"bar"'], 'new [] { "foo", "\\"bar\\"" }'],
  [[{ foo: 'bar' }], 'new [] { new Dictionary<string,Object>{ { "foo" , "bar" } } }'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [2147483648, '2147483648L'],
  [-2147483649, '-2147483649L'],
  [true, 'true'],
  [false, 'false'],
  // NES additions
  [NAN, 'double.NaN'],
  [INF, 'double.PositiveInfinity'],
  [[], 'new [] {  }'],
  [{}, 'new Dictionary<string,Object>{  }'],
]);

valueTable('.net-powershell', [
  // (papermill)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{`"foo`": `"bar`"}"'],
  [{ foo: 'bar' }, '@{"foo" = "bar"}'],
  [{ foo: '"bar"' }, '@{"foo" = "`"bar`""}'],
  [{ foo: ['bar'] }, '@{"foo" = @("bar")}'],
  [{ foo: { bar: 'baz' } }, '@{"foo" = @{"bar" = "baz"}}'],
  [{ foo: { bar: '"baz"' } }, '@{"foo" = @{"bar" = "`"baz`""}}'],
  [['foo'], '@("foo")'],
  [['foo', '"bar"'], '@("foo", "`"bar`"")'],
  [[{ foo: 'bar' }], '@(@{"foo" = "bar"})'],
  [[{ foo: '"bar"' }], '@(@{"foo" = "`"bar`""})'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [NAN, '[double]::NaN'],
  [-INF, '[double]::NegativeInfinity'],
  [INF, '[double]::PositiveInfinity'],
  [true, '$True'],
  [false, '$False'],
  [null, '$Null'],
  // NES additions: papermill joins hashtable entries with a newline and a space
  [{ a: 1, b: 2 }, '@{"a" = 1\n "b" = 2}'],
  [[], '@()'],
  [{}, '@{}'],
]);

valueTable('.net-fsharp', [
  // (papermill)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{\\"foo\\": \\"bar\\"}"'],
  [{ foo: 'bar' }, '[ ("foo", "bar" :> IComparable) ] |> Map.ofList'],
  [{ foo: '"bar"' }, '[ ("foo", "\\"bar\\"" :> IComparable) ] |> Map.ofList'],
  [['foo'], '[ "foo" ]'],
  [['foo', '"bar"'], '[ "foo"; "\\"bar\\"" ]'],
  [[{ foo: 'bar' }], '[ [ ("foo", "bar" :> IComparable) ] |> Map.ofList ]'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [2147483648, '2147483648L'],
  [-2147483649, '-2147483649L'],
  [true, 'true'],
  [false, 'false'],
  // NES additions
  [null, 'None'],
  [NAN, 'nan'],
  [-INF, '-infinity'],
  [[], '[  ]'],
]);

valueTable('julia', [
  // (papermill)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{\\"foo\\": \\"bar\\"}"'],
  [{ foo: 'bar' }, 'Dict("foo" => "bar")'],
  [{ foo: '"bar"' }, 'Dict("foo" => "\\"bar\\"")'],
  [{ foo: ['bar'] }, 'Dict("foo" => ["bar"])'],
  [{ foo: { bar: 'baz' } }, 'Dict("foo" => Dict("bar" => "baz"))'],
  [{ foo: { bar: '"baz"' } }, 'Dict("foo" => Dict("bar" => "\\"baz\\""))'],
  [['foo'], '["foo"]'],
  [['foo', '"bar"'], '["foo", "\\"bar\\""]'],
  [[{ foo: 'bar' }], '[Dict("foo" => "bar")]'],
  [[{ foo: '"bar"' }], '[Dict("foo" => "\\"bar\\"")]'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [true, 'true'],
  [false, 'false'],
  [null, 'nothing'],
  // NES additions
  [NAN, 'NaN'],
  [INF, 'Inf'],
  [[], '[]'],
  [{}, 'Dict()'],
]);

valueTable('matlab', [
  // (papermill; its rows with non-string keys cannot arise from JSON)
  ['foo', '"foo"'],
  ['{"foo": "bar"}', '"{""foo"": ""bar""}"'],
  [{ foo: 'bar' }, 'containers.Map({\'foo\'}, {"bar"})'],
  [{ foo: '"bar"' }, 'containers.Map({\'foo\'}, {"""bar"""})'],
  [{ foo: ['bar'] }, 'containers.Map({\'foo\'}, {{"bar"}})'],
  [{ foo: { bar: 'baz' } }, "containers.Map({'foo'}, {containers.Map({'bar'}, {\"baz\"})})"],
  [
    { foo: { bar: '"baz"' } },
    'containers.Map({\'foo\'}, {containers.Map({\'bar\'}, {"""baz"""})})',
  ],
  [['foo'], '{"foo"}'],
  [['foo', '"bar"'], '{"foo", """bar"""}'],
  [[{ foo: 'bar' }], '{containers.Map({\'foo\'}, {"bar"})}'],
  [[{ foo: '"bar"' }], '{containers.Map({\'foo\'}, {"""bar"""})}'],
  [12345, '12345'],
  [-54321, '-54321'],
  [1.2345, '1.2345'],
  [-5432.1, '-5432.1'],
  [true, 'true'],
  [false, 'false'],
  [null, 'NaN'],
  // NES additions
  [{ "it's": 1 }, "containers.Map({'it''s'}, {1})"],
  [NAN, 'NaN'],
  [-INF, '-Inf'],
  [[], '{}'],
  [{}, 'containers.Map({}, {})'],
]);

valueTable('bash', [
  // Derived from papermill's BashTranslator (shlex.quote, arrays); it has no table of its own.
  ['foo', 'foo'],
  ['', "''"],
  ['two words', "'two words'"],
  ["it's", "'it'\"'\"'s'"],
  ['a@%+=:,./-b_1', 'a@%+=:,./-b_1'],
  ['é', "'é'"],
  ['$HOME', "'$HOME'"],
  [12345, '12345'],
  [-5432.1, '-5432.1'],
  [true, 'true'],
  [false, 'false'],
  [null, ''],
  [['a b', 1, true], "('a b' 1 true)"],
  [[], '()'],
  [NAN, 'nan'],
]);

valueTable('tslab', [
  ['foo', '"foo"'],
  ['say "hi"\n\u2028', '"say \\"hi\\"\\n\u2028"'],
  [12345, '12345'],
  [-5432.1, '-5432.1'],
  [1e-7, '1e-7'],
  [pythonFloat(1), '1'],
  [-0, '-0'],
  [NAN, 'NaN'],
  [-INF, '-Infinity'],
  [12345678901234567890n, '12345678901234567890n'],
  [true, 'true'],
  [null, 'null'],
  [[], '[]'],
  [{}, '{}'],
  [{ a: [1, { b: null }] }, '{"a": [1, {"b": null}]}'],
  // JSON.parse makes "__proto__" an own key; the literal must not turn it into a prototype.
  [JSON.parse('{"__proto__": 1}'), '{["__proto__"]: 1}'],
]);

describe('cells', () => {
  // (papermill) codify tables
  cellTable('python', [
    [{ foo: 'bar' }, '# Parameters\nfoo = "bar"\n'],
    [{ foo: true }, '# Parameters\nfoo = True\n'],
    [{ foo: 5 }, '# Parameters\nfoo = 5\n'],
    [{ foo: 1.1 }, '# Parameters\nfoo = 1.1\n'],
    [{ foo: ['bar', 'baz'] }, '# Parameters\nfoo = ["bar", "baz"]\n'],
    [{ foo: { bar: 'baz' } }, '# Parameters\nfoo = {"bar": "baz"}\n'],
    [{ foo: 'bar', baz: ['buz'] }, '# Parameters\nfoo = "bar"\nbaz = ["buz"]\n'],
    [{}, '# Parameters\n'],
  ]);
  cellTable('R', [
    [{ foo: 'bar' }, '# Parameters\nfoo = "bar"\n'],
    [{ foo: true }, '# Parameters\nfoo = TRUE\n'],
    [{ foo: 5 }, '# Parameters\nfoo = 5\n'],
    [{ foo: 1.1 }, '# Parameters\nfoo = 1.1\n'],
    [{ foo: ['bar', 'baz'] }, '# Parameters\nfoo = list("bar", "baz")\n'],
    [{ foo: { bar: 'baz' } }, '# Parameters\nfoo = list("bar" = "baz")\n'],
    [{ foo: 'bar', baz: ['buz'] }, '# Parameters\nfoo = "bar"\nbaz = list("buz")\n'],
    [{ ___foo: 5 }, '# Parameters\nfoo = 5\n'],
  ]);
  cellTable('scala', [
    [{ foo: 'bar' }, '// Parameters\nval foo = "bar"\n'],
    [{ foo: true }, '// Parameters\nval foo = true\n'],
    [{ foo: 5 }, '// Parameters\nval foo = 5\n'],
    [{ foo: 1.1 }, '// Parameters\nval foo = 1.1\n'],
    [{ foo: ['bar', 'baz'] }, '// Parameters\nval foo = Seq("bar", "baz")\n'],
    [{ foo: { bar: 'baz' } }, '// Parameters\nval foo = Map("bar" -> "baz")\n'],
    [{ foo: 'bar', baz: ['buz'] }, '// Parameters\nval foo = "bar"\nval baz = Seq("buz")\n'],
  ]);
  cellTable('.net-csharp', [
    [{ foo: 'bar' }, '// Parameters\nvar foo = "bar";\n'],
    [{ foo: true }, '// Parameters\nvar foo = true;\n'],
    [{ foo: 5 }, '// Parameters\nvar foo = 5;\n'],
    [{ foo: 1.1 }, '// Parameters\nvar foo = 1.1;\n'],
    [{ foo: ['bar', 'baz'] }, '// Parameters\nvar foo = new [] { "bar", "baz" };\n'],
    [
      { foo: { bar: 'baz' } },
      '// Parameters\nvar foo = new Dictionary<string,Object>{ { "bar" , "baz" } };\n',
    ],
  ]);
  cellTable('.net-powershell', [
    [{ foo: 'bar' }, '# Parameters\n$foo = "bar"\n'],
    [{ foo: true }, '# Parameters\n$foo = $True\n'],
    [{ foo: 5 }, '# Parameters\n$foo = 5\n'],
    [{ foo: 1.1 }, '# Parameters\n$foo = 1.1\n'],
    [{ foo: ['bar', 'baz'] }, '# Parameters\n$foo = @("bar", "baz")\n'],
    [{ foo: { bar: 'baz' } }, '# Parameters\n$foo = @{"bar" = "baz"}\n'],
    [{ foo: 'bar', baz: ['buz'] }, '# Parameters\n$foo = "bar"\n$baz = @("buz")\n'],
  ]);
  cellTable('.net-fsharp', [
    [{ foo: 'bar' }, '(* Parameters *)\nlet foo = "bar"\n'],
    [{ foo: true }, '(* Parameters *)\nlet foo = true\n'],
    [{ foo: 5 }, '(* Parameters *)\nlet foo = 5\n'],
    [{ foo: 1.1 }, '(* Parameters *)\nlet foo = 1.1\n'],
    [{ foo: ['bar', 'baz'] }, '(* Parameters *)\nlet foo = [ "bar"; "baz" ]\n'],
    [
      { foo: { bar: 'baz' } },
      '(* Parameters *)\nlet foo = [ ("bar", "baz" :> IComparable) ] |> Map.ofList\n',
    ],
  ]);
  cellTable('julia', [
    [{ foo: 'bar' }, '# Parameters\nfoo = "bar"\n'],
    [{ foo: true }, '# Parameters\nfoo = true\n'],
    [{ foo: 5 }, '# Parameters\nfoo = 5\n'],
    [{ foo: 1.1 }, '# Parameters\nfoo = 1.1\n'],
    [{ foo: ['bar', 'baz'] }, '# Parameters\nfoo = ["bar", "baz"]\n'],
    [{ foo: { bar: 'baz' } }, '# Parameters\nfoo = Dict("bar" => "baz")\n'],
    [{ foo: 'bar', baz: ['buz'] }, '# Parameters\nfoo = "bar"\nbaz = ["buz"]\n'],
  ]);
  cellTable('matlab', [
    [{ foo: 'bar' }, '% Parameters\nfoo = "bar";\n'],
    [{ foo: true }, '% Parameters\nfoo = true;\n'],
    [{ foo: 5 }, '% Parameters\nfoo = 5;\n'],
    [{ foo: 1.1 }, '% Parameters\nfoo = 1.1;\n'],
    [{ foo: ['bar', 'baz'] }, '% Parameters\nfoo = {"bar", "baz"};\n'],
    [{ foo: { bar: 'baz' } }, '% Parameters\nfoo = containers.Map({\'bar\'}, {"baz"});\n'],
    [{ foo: 'bar', baz: ['buz'] }, '% Parameters\nfoo = "bar";\nbaz = {"buz"};\n'],
  ]);
  cellTable('bash', [[{ foo: 'a b', n: 1, none: null }, "# Parameters\nfoo='a b'\nn=1\nnone=\n"]]);
  cellTable('tslab', [[{ foo: 'bar', n: 1.5 }, '// Parameters\nlet foo = "bar";\nlet n = 1.5;\n']]);

  test('a custom comment replaces "Parameters", and an empty one leaves the bare marker', () => {
    const parameters = { a: 1 };
    assert.equal(
      translateParameters({ language: 'python', parameters, comment: 'Injected Parameters' }),
      '# Injected Parameters\na = 1\n',
    );
    assert.equal(
      translateParameters({ language: 'python', parameters, comment: '' }),
      '#\na = 1\n',
    );
    assert.equal(
      translateParameters({ kernelName: '.net-fsharp', parameters, comment: '' }),
      '(*  *)\nlet a = 1\n',
    );
  });
});

describe('comments (papermill)', () => {
  const rows = (marker: string) =>
    [
      ['', marker],
      ['foo', `${marker} foo`],
      ["['best effort']", `${marker} ['best effort']`],
    ] as const;
  commentTable('python', rows('#'));
  commentTable('R', rows('#'));
  commentTable('julia', rows('#'));
  commentTable('.net-powershell', rows('#'));
  commentTable('scala', rows('//'));
  commentTable('.net-csharp', rows('//'));
  commentTable('matlab', rows('%'));
  commentTable('.net-fsharp', [
    ['', '(*  *)'],
    ['foo', '(* foo *)'],
  ]);
});

describe('lookup', () => {
  test('the kernel name wins over the language', () => {
    assert.equal(findTranslator('sparkkernel', 'python').name, 'scala');
    assert.equal(findTranslator('pysparkkernel', 'scala').name, 'python');
    assert.equal(findTranslator('sparkrkernel').name, 'R');
  });

  test('an unknown kernel falls back to the language', () => {
    assert.equal(findTranslator('python3', 'python').name, 'python');
    assert.equal(findTranslator('ir', 'R').name, 'R');
    assert.equal(findTranslator(undefined, 'javascript').name, 'typescript');
    assert.equal(findTranslator('jslab').name, 'typescript');
  });

  test('neither known raises UnsupportedLanguageError listing what is supported', () => {
    assert.throws(
      () => translateParameters({ kernelName: 'cobol', language: 'COBOL', parameters: {} }),
      (error: unknown) =>
        error instanceof UnsupportedLanguageError &&
        error.code === 'unsupported_language' &&
        error.message.includes("kernel 'cobol' or language 'COBOL'") &&
        error.message.includes('python, R, scala'),
    );
  });

  test('papermill matches names exactly: lower-case "r" is not R', () => {
    assert.throws(() => findTranslator(undefined, 'r'), UnsupportedLanguageError);
  });
});

describe('unsupported values', () => {
  const refuses = (kernelName: string, value: unknown) =>
    assert.throws(
      () => translateParameters({ kernelName, parameters: { x: value } }),
      (error: unknown) =>
        error instanceof UnsupportedParameterValueError && error.code === 'unsupported_value',
    );

  test('C# null and bash dicts, as papermill raises NotImplementedError', () => {
    refuses('.net-csharp', null);
    refuses('.net-csharp', [1, null]);
    refuses('bash', { a: 1 });
  });

  test('values that are not JSON-like', () => {
    refuses('python', undefined);
    refuses('python', new Date(0));
    refuses('python', () => 1);
    refuses('python', new Set());
    refuses('python', [Symbol('s')]);
  });
});
