import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addErrorMarkers,
  ERROR_ANCHOR_MARKDOWN,
  ERROR_MARKER_TAG,
  errorMessageMarkdown,
  readErrorMarker,
  removeErrorMarkers,
} from '../src/error-markers.ts';
import { readNotebook } from '../src/read.ts';
import { validateNotebook } from '../src/validate.ts';
import { code, markdown, notebook } from './fixtures.ts';

const failed = readNotebook(
  notebook([
    markdown('m', '# t'),
    code('a', 'ok', { execution_count: 1 }),
    code('b', 'boom', { execution_count: 2 }),
  ]),
);

describe('error markers (papermill raise_for_execution_errors / remove_error_markers)', () => {
  test('adds the banner at the top and the anchor before the failing cell', () => {
    const marked = addErrorMarkers(failed, { cellIndex: 2, executionCount: 2 });
    assert.deepEqual(
      marked.cells.map((cell) =>
        cell.metadata.tags?.includes(ERROR_MARKER_TAG) ? 'marker' : cell.id,
      ),
      ['marker', 'm', 'a', 'marker', 'b'],
    );
    assert.equal(
      marked.cells[0]?.source,
      '<span style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">' +
        'An Exception was encountered at \'<a href="#papermill-error-cell">In [2]</a>\'.</span>',
    );
    assert.match(
      marked.cells[3]?.source ?? '',
      /^<span id="papermill-error-cell" .*stopped:<\/span>$/,
    );
    assert.doesNotThrow(() => validateNotebook(marked));
    assert.equal(failed.cells.length, 3, 'input untouched');
  });

  test('null execution count reads None, as in Python', () => {
    assert.match(errorMessageMarkdown(null), /In \[None\]/);
  });

  test('removing restores the notebook; re-running never accumulates banners', () => {
    let nb = failed;
    for (let run = 0; run < 3; run++) {
      nb = addErrorMarkers(removeErrorMarkers(nb), { cellIndex: 2, executionCount: 2 });
    }
    assert.equal(
      nb.cells.filter((cell) => cell.metadata.tags?.includes(ERROR_MARKER_TAG)).length,
      2,
    );
    assert.deepEqual(removeErrorMarkers(nb), failed);
  });

  test('4.4 notebooks get markers without ids', () => {
    const old = readNotebook(
      notebook([{ cell_type: 'markdown', metadata: {}, source: '' }], {}, 4),
    );
    const marked = addErrorMarkers(old, { cellIndex: 0, executionCount: null });
    assert.ok(marked.cells.every((cell) => cell.id === undefined));
    assert.doesNotThrow(() => validateNotebook(marked));
  });
});

describe('readErrorMarker', () => {
  test('reads back what addErrorMarkers writes, tags or not', () => {
    for (const tags of [[ERROR_MARKER_TAG], []]) {
      assert.deepEqual(readErrorMarker(errorMessageMarkdown(7), tags), {
        kind: 'banner',
        executionCount: '7',
      });
      assert.deepEqual(readErrorMarker(errorMessageMarkdown(null), tags), {
        kind: 'banner',
        executionCount: 'None',
      });
      assert.deepEqual(readErrorMarker(ERROR_ANCHOR_MARKDOWN, tags), { kind: 'anchor' });
    }
  });

  test("another papermill version's wording is known by its tag alone", () => {
    assert.equal(readErrorMarker('An error happened in In [3]', []), null);
    assert.deepEqual(readErrorMarker('An error happened in In [3]', [ERROR_MARKER_TAG]), {
      kind: 'banner',
      executionCount: '3',
    });
    assert.deepEqual(readErrorMarker('<p id="papermill-error-cell">here</p>', [ERROR_MARKER_TAG]), {
      kind: 'anchor',
    });
  });
});
