/**
 * Parameter names are written into the injected cell verbatim, so only each language's plain
 * identifiers pass; Python's rule is cross-checked against Python itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parameterize } from '../src/parameterize.ts';
import {
  findTranslator,
  InvalidParameterNameError,
  parameterNameProblem,
  translateParameters,
} from '../src/translators/index.ts';

const PYTHON = join(import.meta.dirname, '..', '..', '..', '.tools', 'py', 'bin', 'python');

const HOSTILE = [
  "__import__('os').system('id'); y",
  'a\nb',
  'x = 1\ny',
  'a b',
  '1x',
  '',
  'x'.repeat(256),
  'a;b',
  'a-b',
  'a.b',
  '$(id)',
  '`id`',
];

describe('parameter names', () => {
  for (const kernel of ['python3', 'ir', 'julia-1.10', 'tslab', 'bash', 'scala', 'matlab']) {
    const language = {
      python3: 'python',
      ir: 'R',
      'julia-1.10': 'julia',
      tslab: 'typescript',
      bash: 'bash',
      scala: 'scala',
      matlab: 'matlab',
    }[kernel];
    test(`${kernel}: code, newlines and separators are refused before anything is written`, () => {
      const translator = findTranslator(kernel, language);
      for (const name of HOSTILE) {
        // R may take `a.b`, a name in R.
        if (language === 'R' && name === 'a.b') continue;
        assert.notEqual(parameterNameProblem(translator, name), null, JSON.stringify(name));
        assert.throws(
          () => translateParameters({ kernelName: kernel, language, parameters: { [name]: 1 } }),
          (error: unknown) =>
            error instanceof InvalidParameterNameError && error.parameterName === name,
        );
      }
      assert.equal(parameterNameProblem(translator, 'alpha_2'), null);
    });
  }

  test('reserved words are refused in their own language only', () => {
    const python = findTranslator('python3', 'python');
    const r = findTranslator('ir', 'R');
    assert.match(parameterNameProblem(python, 'class') ?? '', /reserved word/);
    assert.match(parameterNameProblem(python, 'None') ?? '', /reserved word/);
    assert.equal(parameterNameProblem(r, 'class'), null);
    assert.match(parameterNameProblem(r, 'TRUE') ?? '', /reserved word/);
    assert.match(parameterNameProblem(findTranslator('tslab'), 'let') ?? '', /reserved word/);
  });

  test("R: a leading '_' is dropped as papermill does, then the rest must be a name", () => {
    const r = findTranslator('ir', 'R');
    assert.equal(parameterNameProblem(r, '_x'), null);
    assert.equal(parameterNameProblem(r, '.hidden'), null);
    assert.notEqual(parameterNameProblem(r, '.2x'), null);
    assert.notEqual(parameterNameProblem(r, '_'), null);
  });

  test('letters of any script where the language allows them; ASCII only where it does not', () => {
    assert.equal(parameterNameProblem(findTranslator('python3', 'python'), 'größe'), null);
    assert.equal(parameterNameProblem(findTranslator('tslab'), '$élan'), null);
    assert.notEqual(parameterNameProblem(findTranslator('bash', 'bash'), 'größe'), null);
    assert.notEqual(parameterNameProblem(findTranslator('matlab', 'matlab'), 'größe'), null);
  });

  test('parameterize refuses a bad name and the notebook is not touched', () => {
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'P', language: 'python' } },
      cells: [],
    };
    assert.throws(
      () => parameterize(nb as never, { 'a\nimport os': 1 }),
      /parameter name "a\\nimport os" is not a Python identifier/,
    );
  });

  test('Python agrees: str.isidentifier() and not a keyword', { skip: !existsSync(PYTHON) }, () => {
    const names = [
      ...HOSTILE,
      'alpha',
      '_private',
      '__dunder__',
      'größe',
      'x1',
      'True',
      'lambda',
      'match',
      'case',
      'type',
      '_',
      'ℌ',
      'a\u200bb',
      '٣x',
      'x٣',
      'café',
      '\u00b7x',
      'x\u00b7',
    ];
    const result = spawnSync(
      PYTHON,
      [
        '-c',
        'import json,sys,keyword\nnames=json.load(sys.stdin)\nprint(json.dumps([n.isidentifier() and not keyword.iskeyword(n) and len(n) <= 255 for n in names]))',
      ],
      { input: JSON.stringify(names), encoding: 'utf8' },
    );
    assert.equal(result.status, 0, result.stderr);
    const python = JSON.parse(result.stdout) as boolean[];
    const translator = findTranslator('python3', 'python');
    names.forEach((name, i) => {
      assert.equal(
        parameterNameProblem(translator, name) === null,
        python[i],
        `${JSON.stringify(name)}: Python says ${python[i]}`,
      );
    });
  });
});
