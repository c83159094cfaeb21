/** Parameter inspection: papermill's test_inspect_python table, then NES's own cases. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspectParameters, type ParameterInfo } from '../src/inspect/index.ts';
import type { Cell, Notebook } from '../src/nbformat.ts';

function notebook(
  cells: Array<{ source: string; tags?: string[]; cell_type?: Cell['cell_type'] }>,
  kernelspec: { name: string; language?: string } = { name: 'python3', language: 'python' },
): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { display_name: kernelspec.name, ...kernelspec } },
    cells: cells.map(({ source, tags, cell_type = 'code' }): Cell => {
      const metadata = tags ? { tags } : {};
      return cell_type === 'code'
        ? { cell_type, metadata, source, execution_count: null, outputs: [] }
        : { cell_type, metadata, source };
    }),
  };
}

const p = (name: string, type: string | null, value: string, help = ''): ParameterInfo => ({
  name,
  type,
  default: value,
  help,
});

function inspectCell(source: string, kernelspec?: { name: string; language?: string }) {
  return inspectParameters(notebook([{ source, tags: ['parameters'] }], kernelspec));
}

const PYTHON_ROWS: ReadonlyArray<readonly [string, string, ParameterInfo[]]> = [
  // (papermill) test_inspect_python
  ['plain', 'a = 2', [p('a', null, '2')]],
  ['annotation', 'a: int = 2', [p('a', 'int', '2')]],
  ['type comment', 'a = 2 # type:int', [p('a', 'int', '2')]],
  ['help', 'a = False # Nice variable a', [p('a', null, 'False', 'Nice variable a')]],
  [
    'annotation wins over type comment',
    'a: float = 2.258 # type: int Nice variable a',
    [p('a', 'float', '2.258', 'Nice variable a')],
  ],
  [
    'type comment and help',
    "a = 'this is a string' # type: int Nice variable a",
    [p('a', 'int', "'this is a string'", 'Nice variable a')],
  ],
  [
    'generic annotation',
    "a: List[str] = ['this', 'is', 'a', 'string', 'list'] # Nice variable a",
    [p('a', 'List[str]', "['this', 'is', 'a', 'string', 'list']", 'Nice variable a')],
  ],
  [
    'multi-line default with inner comments',
    "a: List[str] = [\n    'this', # First\n    'is',\n    'a',\n    'string',\n    'list' # Last\n] # Nice variable a",
    [p('a', 'List[str]', "['this','is','a','string','list']", 'Nice variable a')],
  ],
  [
    'multi-line default',
    "a: List[str] = [\n    'this',\n    'is',\n    'a',\n    'string',\n    'list'\n] # Nice variable a",
    [p('a', 'List[str]', "['this','is','a','string','list']", 'Nice variable a')],
  ],
  [
    'blank lines and a second parameter',
    "a: List[str] = [\n                'this', # First\n                'is',\n\n                'a',\n                'string',\n                'list' # Last\n            ] # Nice variable a\n\n            b: float = -2.3432 # My b variable\n            ",
    [
      p('a', 'List[str]', "['this','is','a','string','list']", 'Nice variable a'),
      p('b', 'float', '-2.3432', 'My b variable'),
    ],
  ],
  // NES cases
  ['hash inside a string', 'a = "#1 # not help" # help', [p('a', null, '"#1 # not help"', 'help')]],
  ['string annotation', 'a: "int" = 1', [p('a', 'int', '1')]],
  ['dict annotation', 'a: Dict[str, int] = {"x": 1}', [p('a', 'Dict[str, int]', '{"x": 1}')]],
  ['no spaces', 'a=1', [p('a', null, '1')]],
  ['parenthesized', 'x = (1 +\n     2)', [p('x', null, '(1 +2)')]],
  ['triple-quoted', 's = """multi\n  line""" # doc', [p('s', null, '"""multiline"""', 'doc')]],
  ['backslash continuation', 'x = 1 + \\\n    2', [p('x', null, '1 +2')]],
  ['semicolons', 'a = 1; b = 2  # about b', [p('a', null, '1'), p('b', null, '2', 'about b')]],
  ['lambda default', 'f = lambda x=1: x', [p('f', null, 'lambda x=1: x')]],
  ['magics are ignored', '%matplotlib inline\n!ls\nx?\na = 1', [p('a', null, '1')]],
  ['inside if', 'if True:\n    a = 1\nelse:\n    a = 2', [p('a', null, '2')]],
  [
    'not inside def or class',
    'def f():\n    x = 1\n    return x\nclass C:\n    y = 2\n@decorator\ndef g(): pass\nz = 3',
    [p('z', null, '3')],
  ],
  [
    'non-assignments are ignored',
    'import os\nprint(a)\na == 1\na += 1\na, b = 1, 2\na.b = 1\na[0] = 1\na = b = 1\nx: int\nc = 1 if a <= 2 else 3',
    [p('c', null, '1 if a <= 2 else 3')],
  ],
  ['empty type comment', 'a = 1 # type:', [p('a', null, '1')]],
  ['unicode name and help', 'größe = 1  # Größe in m', [p('größe', null, '1', 'Größe in m')]],
  ['comment-only and blank cell', '# nothing here\n\n', []],
];

describe('python', () => {
  for (const [title, source, expected] of PYTHON_ROWS) {
    test(title, () => assert.deepEqual(inspectCell(source).parameters, expected));
  }

  test('a repeated name keeps its first position and last value, with a warning', () => {
    const result = inspectCell('a = 1\nb = 2\na = 3');
    assert.deepEqual(result.parameters, [p('a', null, '3'), p('b', null, '2')]);
    assert.deepEqual(result.warnings, ["parameter 'a' is assigned more than once; the last wins"]);
  });
});

describe('R', () => {
  const R = { name: 'ir', language: 'R' };
  test('=, <- and <<-, help comments, multi-line calls, backticks', () => {
    const source = [
      'x = 1  # help for x',
      'y <- "a = b"',
      'z <<- c(1,',
      '        2)  # two',
      'f <- function(a) {',
      '  inner = a',
      '}',
      '`odd name` = TRUE',
      'w <- 1 +',
      '  2',
      'x == 1',
      'print(x)',
      'v = 1 # type: integer count',
    ].join('\n');
    const result = inspectCell(source, R);
    assert.equal(result.language, 'R');
    assert.deepEqual(result.parameters, [
      p('x', null, '1', 'help for x'),
      p('y', null, '"a = b"'),
      p('z', null, 'c(1,2)', 'two'),
      p('f', null, 'function(a) {inner = a}'),
      p('odd name', null, 'TRUE'),
      p('w', null, '1 +2'),
      p('v', 'integer', '1', 'count'),
    ]);
  });
});

describe('notebook level', () => {
  test('no parameters cell gives no parameters and a warning', () => {
    const result = inspectParameters(notebook([{ source: 'a = 1' }]));
    assert.deepEqual(result, {
      language: 'python',
      parameters: [],
      warnings: ["no cell is tagged 'parameters'"],
    });
  });

  test('only the first tagged cell counts', () => {
    const nb = notebook([
      { source: 'untagged = 0' },
      { source: 'a = 1', tags: ['x', 'parameters'] },
      { source: 'b = 2', tags: ['parameters'] },
    ]);
    assert.deepEqual(inspectParameters(nb).parameters, [p('a', null, '1')]);
  });

  test('kernel aliases and overrides choose the inspector like the translator lookup', () => {
    const spark = inspectCell('a = 1', { name: 'pysparkkernel' });
    assert.equal(spark.language, 'python');
    assert.equal(spark.parameters.length, 1);
    const overridden = inspectParameters(notebook([{ source: 'a <- 1', tags: ['parameters'] }]), {
      kernelName: 'ir',
      language: 'R',
    });
    assert.deepEqual(overridden.parameters, [p('a', null, '1')]);
  });

  test('language_info is the fallback when kernelspec has no language', () => {
    const nb = notebook([{ source: 'a = 1', tags: ['parameters'] }], { name: 'custom' });
    nb.metadata.language_info = { name: 'python' };
    assert.equal(inspectParameters(nb).parameters.length, 1);
  });

  test('languages without an inspector, or unknown ones, warn instead of throwing', () => {
    const bash = inspectCell('a=1', { name: 'bash', language: 'bash' });
    assert.deepEqual(bash.parameters, []);
    assert.match(bash.warnings[0] ?? '', /not supported for kernel 'bash'/);
    const unknown = inspectCell('a = 1', { name: 'cobol', language: 'COBOL' });
    assert.equal(unknown.language, 'COBOL');
    assert.deepEqual(unknown.parameters, []);
  });
});
