/** Every IOPub output type, through a real Jupyter Server and python3 kernel. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { code } from './support/notebooks.ts';
import { codeCell, joined, runCells } from './support/run.ts';
import { sharedServer } from './support/server.ts';

const server = sharedServer();

describe('outputs', () => {
  test('streams, execute_result, display_data, update_display_data, clear_output', async () => {
    const { result, saved } = await runCells(
      [
        code(
          [
            'import sys',
            "print('a')",
            "print('b', flush=True)",
            "print('e', file=sys.stderr, flush=True)",
            "print('c')",
          ].join('\n'),
        ),
        code('6 * 7'),
        code(
          [
            'from IPython.display import HTML, display, update_display',
            "h = display(HTML('<b>first</b>'), display_id='d1')",
            "display(HTML('<p>other</p>'))",
          ].join('\n'),
        ),
        code("update_display(HTML('<i>updated</i>'), display_id='d1')"),
        code("display(HTML('<u>again</u>'), display_id='d1')"),
        code(
          [
            'from IPython.display import clear_output',
            "print('gone')",
            'clear_output()',
            "print('kept')",
          ].join('\n'),
        ),
        code(["print('old', flush=True)", 'clear_output(wait=True)', "print('new')"].join('\n')),
        code(['clear_output(wait=True)', "print('x', flush=True)"].join('\n')),
      ],
      { server: server() },
    );
    assert.equal(result.status, 'succeeded');
    assert.equal(result.error, null);
    assert.equal(result.cellsDone, 8);

    const streams = codeCell(saved, 0);
    assert.equal(streams.execution_count, 1);
    assert.deepEqual(
      streams.outputs.map((o) => (o.output_type === 'stream' ? [o.name, joined(o.text)] : o)),
      [
        ['stdout', 'a\nb\n'],
        ['stderr', 'e\n'],
        ['stdout', 'c\n'],
      ],
    );

    assert.deepEqual(codeCell(saved, 1).outputs, [
      {
        output_type: 'execute_result',
        execution_count: 2,
        data: { 'text/plain': ['42'] },
        metadata: {},
      },
    ]);

    // d1 was displayed in cell 2, updated from cell 3, displayed again in cell 4: every output
    // carrying d1 shows the last content; the unrelated display keeps its own.
    const displays = codeCell(saved, 2).outputs;
    assert.equal(displays.length, 2);
    assert.equal(displays[0]?.output_type, 'display_data');
    if (
      displays[0]?.output_type === 'display_data' &&
      displays[1]?.output_type === 'display_data'
    ) {
      assert.equal(joined(displays[0].data['text/html'] as string[]), '<u>again</u>');
      assert.equal(joined(displays[1].data['text/html'] as string[]), '<p>other</p>');
    }
    assert.deepEqual(codeCell(saved, 3).outputs, []);
    const again = codeCell(saved, 4).outputs[0];
    assert.equal(
      again?.output_type === 'display_data' && joined(again.data['text/html'] as string[]),
      '<u>again</u>',
    );

    assert.deepEqual(codeCell(saved, 5).outputs, [
      { output_type: 'stream', name: 'stdout', text: ['kept\n'] },
    ]);
    assert.deepEqual(codeCell(saved, 6).outputs, [
      { output_type: 'stream', name: 'stdout', text: ['new\n'] },
    ]);
    assert.deepEqual(codeCell(saved, 7).outputs, [
      { output_type: 'stream', name: 'stdout', text: ['x\n'] },
    ]);
  });

  test('a 10 MB stream arrives intact and the log callback sees it', async () => {
    let logged = 0;
    const { result, saved } = await runCells(
      [code("import sys\n_ = sys.stdout.write('y' * 10_000_000)")],
      {
        server: server(),
        onOutputText: (text, stream) => {
          if (stream === 'stdout') logged += text.length;
        },
      },
    );
    assert.equal(result.status, 'succeeded');
    const out = codeCell(saved, 0).outputs;
    assert.equal(out.length, 1);
    const text = out[0]?.output_type === 'stream' ? joined(out[0].text) : '';
    assert.equal(text.length, 10_000_000);
    assert.match(text, /^y+$/);
    assert.equal(logged, 10_000_000);
  });

  test('a matplotlib figure becomes image/png', async () => {
    const { result, saved } = await runCells(
      [
        code(
          [
            '%matplotlib inline',
            'import matplotlib.pyplot as plt',
            'plt.plot([1, 2, 3], [1, 4, 9])',
            'plt.show()',
          ].join('\n'),
        ),
      ],
      { server: server(), cwd: '/tmp' },
    );
    assert.equal(result.status, 'succeeded');
    const image = codeCell(saved, 0).outputs.find((o) => o.output_type === 'display_data');
    assert.ok(image && image.output_type === 'display_data', 'a display_data output');
    const png = Buffer.from(image.data['image/png'] as string, 'base64');
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.length > 1000);
  });

  test('outputs past the caps are truncated with a visible note', async () => {
    const { result, saved } = await runCells(
      [
        code("print('z' * 5000)"),
        code("from IPython.display import HTML, display\ndisplay(HTML('h' * 5000))"),
        code("for i in range(3):\n    print('q' * 900, flush=True)"),
        code("print('after the notebook cap')"),
      ],
      { server: server(), limits: { perOutputBytes: 1000, perNotebookBytes: 2000 } },
    );
    assert.equal(result.status, 'succeeded');
    const first = codeCell(saved, 0).outputs;
    assert.equal(first.length, 1);
    const text = first[0]?.output_type === 'stream' ? joined(first[0].text) : '';
    assert.equal(
      text,
      `${'z'.repeat(1000)}\n[NES: output truncated: 4001 bytes dropped (per-output limit reached)]\n`,
    );

    // The HTML and its text/plain (34 bytes) are over the per-output cap: replaced by a note.
    assert.deepEqual(codeCell(saved, 1).outputs, [
      {
        output_type: 'stream',
        name: 'stderr',
        text: ['[NES: output truncated: 5034 bytes dropped (per-output limit reached)]\n'],
      },
    ]);
    // 1000 bytes used; 1000 more fit the notebook cap, then it is full.
    // One output per stream message (nbclient's way): the cell's text is all of them.
    const thirdText = codeCell(saved, 2)
      .outputs.map((o) => (o.output_type === 'stream' ? joined(o.text) : ''))
      .join('');
    assert.ok(thirdText.startsWith('q'.repeat(900)));
    assert.match(
      thirdText,
      /\[NES: output truncated: \d+ bytes dropped \((per-output|notebook output) limit reached\)\]\n$/,
    );
    assert.deepEqual(codeCell(saved, 3).outputs, [
      {
        output_type: 'stream',
        name: 'stderr',
        text: ['[NES: output truncated: 23 bytes dropped (notebook output limit reached)]\n'],
      },
    ]);
  });
});
