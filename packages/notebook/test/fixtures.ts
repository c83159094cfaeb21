/** Notebooks in their disk form, each named for what it exercises. */
import type { JsonObject } from '../src/nbformat.ts';

const kernelspec = { name: 'python3', display_name: 'Python 3', language: 'python' };

export function notebook(cells: JsonObject[], extra: JsonObject = {}, minor = 5): JsonObject {
  return {
    nbformat: 4,
    nbformat_minor: minor,
    metadata: { kernelspec, language_info: { name: 'python' }, ...extra },
    cells,
  };
}

export function code(id: string, source: string | string[], extra: JsonObject = {}): JsonObject {
  return {
    cell_type: 'code',
    id,
    metadata: {},
    source,
    execution_count: null,
    outputs: [],
    ...extra,
  };
}

export function markdown(id: string, source: string, extra: JsonObject = {}): JsonObject {
  return { cell_type: 'markdown', id, metadata: {}, source, ...extra };
}

export const WRITER_FIXTURES: Record<string, JsonObject> = {
  empty_notebook: notebook([]),
  unicode_and_emoji: notebook([
    markdown('m1', '# Grüße 🌍\n\nüñíçødé — “quotes” \u00a0nbsp\n'),
    code('c1', 'print("日本語")\n'),
  ]),
  control_characters: notebook([
    code('c1', 'x = "\\x1b[31mred"\n', {
      execution_count: 1,
      outputs: [
        { output_type: 'stream', name: 'stdout', text: '\u001b[31mred\u001b[0m\u0000\u0007\n' },
      ],
    }),
  ]),
  python_line_boundaries: notebook([
    markdown('m1', 'a\r\nb\rc\u000bd\u000ce\u001cf\u001dg\u001eh\u0085i\u2028j\u2029k'),
  ]),
  empty_lists_and_objects: notebook([
    code('c1', '', { metadata: { tags: [], jupyter: {} } }),
    { cell_type: 'raw', id: 'r1', metadata: {}, source: '' },
  ]),
  nested_metadata_and_sorting: notebook([], {
    custom: { z: [1, 2.5, { b: null, a: true }], '10': 1, '9': 2, é: 'x', '\uffff': 1, '😀': 2 },
    papermill: { parameters: { alpha: 0.1, n: 3, tiny: 1e-7, big: 1.5e17 } },
  }),
  outputs_of_every_type: notebook([
    code('c1', ['import x\n', 'x'], {
      execution_count: 2,
      outputs: [
        { output_type: 'stream', name: 'stderr', text: ['warn\n', 'more'] },
        {
          output_type: 'execute_result',
          execution_count: 2,
          data: {
            'text/plain': ['1\n', '2'],
            'text/html': '<b>\n</b>',
            'application/json': { a: ['x\ny'] },
            'application/vnd.custom+json': { k: 'v\n' },
            'application/javascript': 'f()\ng()',
            'image/svg+xml': '<svg>\n</svg>',
            'image/png': 'iVBOR\nw0K',
          },
          metadata: { 'image/png': { width: 640 } },
        },
        { output_type: 'display_data', data: { 'text/plain': 'x' }, metadata: {} },
        {
          output_type: 'error',
          ename: 'ValueError',
          evalue: 'bad\nvalue',
          traceback: ['l1\n', 'l2'],
        },
      ],
    }),
  ]),
  markdown_attachments: notebook([
    markdown('m1', '![a](attachment:a.png)', {
      attachments: { 'a.png': { 'image/png': 'iVBOR\nw0K', 'text/plain': 'alt\ntext' } },
    }),
  ]),
  nbformat_4_4_without_ids: {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: {},
    cells: [
      {
        cell_type: 'code',
        metadata: { collapsed: false },
        source: 'x',
        execution_count: 3,
        outputs: [],
      },
    ],
  },
};
