import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Notebook } from '../src/nbformat.ts';
import { parameterize } from '../src/parameterize.ts';
import { readNotebook } from '../src/read.ts';
import { FloatValue, UnsupportedLanguageError } from '../src/translators/index.ts';
import { validateNotebook } from '../src/validate.ts';
import { serializeNotebook } from '../src/write.ts';
import { code, markdown, notebook } from './fixtures.ts';
import { askNbformat, nbformatAvailable } from './nbformat-reference.ts';

const tagged = (id: string, tag: string, source = '') =>
  code(id, source, { metadata: { tags: [tag] } });

const FIXTURES: Record<string, Notebook> = {
  no_parameters_cell: readNotebook(notebook([markdown('m', '# t'), code('c', 'print(x)')])),
  one_parameters_cell: readNotebook(
    notebook([markdown('m', '# t'), tagged('p', 'parameters', 'x = 0\n'), code('c', 'print(x)')]),
  ),
  several_parameters_cells: readNotebook(
    notebook([
      tagged('p1', 'parameters', 'x = 0'),
      code('c', ''),
      tagged('p2', 'parameters', 'y = 0'),
    ]),
  ),
  existing_injected_cell: readNotebook(
    notebook([
      tagged('p', 'parameters', 'x = 0'),
      code('c', ''),
      tagged('old', 'injected-parameters', '# Parameters\nx = 5\n'),
      code('d', ''),
    ]),
  ),
  two_stale_injected_cells: readNotebook(
    notebook([
      tagged('old1', 'injected-parameters', 'x = 1'),
      tagged('p', 'parameters', 'x = 0'),
      tagged('old2', 'injected-parameters', 'x = 2'),
    ]),
  ),
  nbformat_4_4: readNotebook(
    notebook(
      [
        {
          cell_type: 'code',
          metadata: { tags: ['parameters'] },
          source: 'x = 0',
          execution_count: null,
          outputs: [],
        },
      ],
      {},
      4,
    ),
  ),
};

const sources = (nb: Notebook) => nb.cells.map((cell) => cell.id);
const injectedIndex = (nb: Notebook) =>
  nb.cells.findIndex((cell) => cell.metadata.tags?.includes('injected-parameters'));

describe('parameterize: placement (papermill parameterize_notebook)', () => {
  const cases: Array<[string, number, string[], number]> = [
    // fixture, expected index of the injected cell, ids of the other cells in order, warnings
    ['no_parameters_cell', 0, ['m', 'c'], 1],
    ['one_parameters_cell', 2, ['m', 'p', 'c'], 0],
    ['several_parameters_cells', 1, ['p1', 'c', 'p2'], 0],
    ['existing_injected_cell', 2, ['p', 'c', 'd'], 0],
    ['two_stale_injected_cells', 0, ['p'], 0],
  ];
  for (const [name, at, others, warningCount] of cases) {
    test(name, () => {
      const { notebook: nb, warnings } = parameterize(FIXTURES[name] as Notebook, { x: 1 });
      assert.equal(injectedIndex(nb), at);
      assert.deepEqual(
        sources(nb).filter((_, index) => index !== at),
        others,
      );
      assert.equal(warnings.length, warningCount);
      assert.equal(
        nb.cells.filter((cell) => cell.metadata.tags?.includes('injected-parameters')).length,
        1,
      );
    });
  }

  test('no parameters cell warns with papermill wording', () => {
    const { warnings } = parameterize(FIXTURES.no_parameters_cell as Notebook, { x: 1 });
    assert.deepEqual(warnings, ["Input notebook does not contain a cell with tag 'parameters'"]);
  });
});

describe('parameterize: the injected cell and metadata', () => {
  test('python source with papermill comment header, tags and empty outputs', () => {
    const { notebook: nb } = parameterize(FIXTURES.one_parameters_cell as Notebook, {
      name: 'NES',
      count: 3,
      ratio: new FloatValue(1),
      flags: [true, null],
    });
    const cell = nb.cells[2];
    assert.equal(cell?.cell_type, 'code');
    assert.equal(
      cell?.source,
      '# Parameters\nname = "NES"\ncount = 3\nratio = 1.0\nflags = [True, None]\n',
    );
    assert.deepEqual(cell?.metadata, { tags: ['injected-parameters'] });
    assert.ok(
      cell?.cell_type === 'code' && cell.outputs.length === 0 && cell.execution_count === null,
    );
    assert.deepEqual(Object.keys(nb.metadata.papermill?.parameters ?? {}), [
      'name',
      'count',
      'ratio',
      'flags',
    ]);
    const written = JSON.parse(serializeNotebook(nb));
    assert.ok(serializeNotebook(nb).includes('"ratio": 1.0'), 'a FloatValue is written as a float');
    assert.deepEqual(written.metadata.papermill.parameters.flags, [true, null]);
  });

  test('no parameters: a header-only cell, as parameterize_notebook does', () => {
    const { notebook: nb } = parameterize(FIXTURES.one_parameters_cell as Notebook, {});
    assert.equal(nb.cells[2]?.source, '# Parameters\n');
    assert.deepEqual(nb.metadata.papermill?.parameters, {});
  });

  test('report mode hides the injected source only', () => {
    const { notebook: nb } = parameterize(
      FIXTURES.one_parameters_cell as Notebook,
      { x: 1 },
      { reportMode: true },
    );
    assert.deepEqual(nb.cells[2]?.metadata, {
      tags: ['injected-parameters'],
      jupyter: { source_hidden: true },
    });
    assert.equal(nb.cells[1]?.metadata.jupyter, undefined);
  });

  test('custom comment', () => {
    const { notebook: nb } = parameterize(
      FIXTURES.one_parameters_cell as Notebook,
      { x: 1 },
      { comment: 'Injected' },
    );
    assert.equal(nb.cells[2]?.source, '# Injected\nx = 1\n');
  });

  test('kernel and language come from options, then kernelspec, then language_info', () => {
    const base = FIXTURES.one_parameters_cell as Notebook;
    const rNotebook: Notebook = {
      ...base,
      metadata: { kernelspec: { name: 'ir', display_name: 'R', language: 'R' } },
    };
    assert.match(
      parameterize(rNotebook, { x: 1 }).notebook.cells[2]?.source ?? '',
      /^# Parameters\nx = 1\n$/,
    );
    assert.equal(
      parameterize(base, { x: true }, { language: 'R' }).notebook.cells[2]?.source,
      '# Parameters\nx = TRUE\n',
    );
    const languageOnly: Notebook = { ...base, metadata: { language_info: { name: 'R' } } };
    assert.equal(
      parameterize(languageOnly, { x: true }).notebook.cells[2]?.source,
      '# Parameters\nx = TRUE\n',
    );
    const unknown: Notebook = {
      ...base,
      metadata: { kernelspec: { name: 'cobol', display_name: 'COBOL' } },
    };
    assert.throws(() => parameterize(unknown, { x: 1 }), UnsupportedLanguageError);
  });

  test('keeps existing papermill metadata and unknown metadata', () => {
    const base = FIXTURES.one_parameters_cell as Notebook;
    const nb: Notebook = {
      ...base,
      metadata: {
        ...base.metadata,
        papermill: { version: '2.6.0', parameters: { old: 1 } },
        mine: 1,
      },
    };
    const result = parameterize(nb, { x: 1 }).notebook;
    assert.deepEqual(result.metadata.papermill, { version: '2.6.0', parameters: { x: 1 } });
    assert.equal(result.metadata.mine, 1);
  });
});

describe('parameterize: purity and determinism', () => {
  test('idempotent: parameterizing twice equals once', () => {
    for (const [name, nb] of Object.entries(FIXTURES)) {
      const once = parameterize(nb, { x: 1, y: 'a' }).notebook;
      const twice = parameterize(once, { x: 1, y: 'a' }).notebook;
      assert.deepEqual(twice, once, name);
    }
  });

  test('never mutates the notebook or the parameters', () => {
    for (const [name, nb] of Object.entries(FIXTURES)) {
      const before = structuredClone(nb);
      const parameters = { x: 1, nested: { list: [1, 2] } };
      const result = parameterize(nb, parameters, { reportMode: true }).notebook;
      assert.deepEqual(nb, before, name);
      assert.deepEqual(parameters, { x: 1, nested: { list: [1, 2] } });
      const recorded = result.metadata.papermill?.parameters as { nested: unknown };
      assert.notEqual(recorded.nested, parameters.nested, 'the notebook does not alias the caller');
    }
  });

  test('upgrades 4.4 to 4.5 with ids, as papermill load_notebook_node does', () => {
    const { notebook: nb } = parameterize(FIXTURES.nbformat_4_4 as Notebook, { x: 1 });
    assert.equal(nb.nbformat_minor, 5);
    assert.doesNotThrow(() => validateNotebook(nb));
  });

  test('every parameterized notebook validates (ours and nbformat)', {
    skip: !nbformatAvailable && 'no nbformat venv',
  }, () => {
    const outputs = Object.values(FIXTURES).flatMap((nb) => [
      parameterize(nb, { x: 1, s: 'ü"\n' }).notebook,
      parameterize(nb, {}, { reportMode: true }).notebook,
    ]);
    for (const nb of outputs) validateNotebook(nb);
    const answers = askNbformat(
      outputs.map((nb) => ({ op: 'validate', text: serializeNotebook(nb) })),
    );
    answers.forEach((answer, index) => {
      assert.ok(answer.ok, `output ${index}: ${answer.error}`);
    });
  });
});
