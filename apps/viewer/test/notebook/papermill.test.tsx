import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { Cell } from '../../src/notebook/nbformat.ts';
import { formatDuration } from '../../src/notebook/papermill.ts';
import { SLOT_HEIGHT } from '../setup.ts';
import { code, md, notebook, renderNotebook, stream } from './fixtures.tsx';

const STYLE =
  'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"';
const TAG = { tags: ['papermill-error-cell-tag'] };

/** A notebook as papermill leaves it after cell "In [2]" raised. */
function failedRun(): Cell[] {
  return [
    md(
      `<span ${STYLE}>An Exception was encountered at '<a href="#papermill-error-cell">In [2]</a>'.</span>`,
      {
        metadata: TAG,
      },
    ),
    code('alpha = 0.1', [], { metadata: { tags: ['parameters'] } }),
    code('alpha = 0.5', [], { metadata: { tags: ['injected-parameters'] } }),
    md(
      `<span id="papermill-error-cell" ${STYLE}>Execution using papermill encountered an exception here and stopped:</span>`,
      {
        metadata: TAG,
      },
    ),
    code(
      '1 / 0',
      [
        {
          output_type: 'error',
          ename: 'ZeroDivisionError',
          evalue: 'division by zero',
          traceback: ['ZeroDivisionError'],
        },
      ],
      {
        execution_count: 2,
        metadata: {
          papermill: {
            exception: true,
            status: 'failed',
            duration: 0.25,
            start_time: '',
            end_time: '',
          },
        },
      },
    ),
    code('print("after")', [], {
      execution_count: null,
      metadata: { papermill: { status: 'pending', exception: null } },
    }),
  ];
}

describe("papermill's error cells", () => {
  it('shows a banner, not the raw HTML, with a button that scrolls to the failing cell', async () => {
    const scrollTo = vi.spyOn(window, 'scrollTo');
    // long enough to scroll: the window is 768px high in jsdom
    const filler = Array.from({ length: 30 }, (_, i) => code(`print(${i})`));
    const { container } = renderNotebook(notebook([...failedRun(), ...filler]));
    const banner = screen.getByRole('alert');
    expect(banner.textContent).toContain('Execution failed at cell 2');
    expect(container.querySelector('span[style*="color:red"]')).toBeNull();
    expect(container.textContent).not.toContain('An Exception was encountered');
    fireEvent.click(screen.getByRole('button', { name: 'Go to the failing cell' }));
    // every slot measures SLOT_HEIGHT in the tests; the failing cell is index 4
    await waitFor(() =>
      expect(scrollTo).toHaveBeenLastCalledWith(expect.objectContaining({ top: 4 * SLOT_HEIGHT })),
    );
  });

  it('marks where execution stopped and the failing cell', () => {
    const { container } = renderNotebook(notebook(failedRun()));
    const anchor = container.querySelector('#papermill-error-cell');
    expect(anchor?.textContent).toBe('Execution stopped here: the next cell raised an exception.');
    // The author's numbering: the injected parameters cell is papermill's, not counted.
    const failing = screen.getByRole('article', { name: 'Code cell 2' });
    expect(failing.classList.contains('nes-cell-failed')).toBe(true);
    expect(failing.querySelector('.nes-status')?.textContent).toBe('Failed');
    expect(failing.querySelector('.nes-duration')?.textContent).toBe('0.25 s');
    const notRun = screen.getByRole('article', { name: 'Code cell 3' });
    expect(notRun.querySelector('.nes-status')?.textContent).toBe('Not run');
    expect(notRun.querySelector('.nes-input-prompt')?.textContent).toBe('[ ]:');
  });

  it('numbers code cells as their author does: not the banner, the anchor or the injected parameters', () => {
    const { container } = renderNotebook(notebook([...failedRun(), md('after')]));
    expect(
      Array.from(container.querySelectorAll('.nes-cell-index'), (label) => label.textContent),
    ).toEqual(['Cell 1', 'Cell 2', 'Cell 3']);
    expect(
      Array.from(container.querySelectorAll('article[data-cell-index]'), (cell) =>
        cell.getAttribute('aria-label'),
      ),
    ).toEqual([
      'Code cell 1',
      'Code cell: injected parameters',
      'Code cell 2',
      'Code cell 3',
      'Markdown cell',
    ]);
  });

  it('exposes each cell state as data-state, beside the visible text', () => {
    const { container } = renderNotebook(notebook(failedRun()));
    const states = Array.from(container.querySelectorAll('article[data-cell-index]'), (cell) => [
      cell.getAttribute('aria-label'),
      cell.getAttribute('data-state'),
      cell.querySelector('.nes-status')?.textContent ?? null,
    ]);
    expect(states).toEqual([
      ['Code cell 1', null, null],
      ['Code cell: injected parameters', null, null],
      ['Code cell 2', 'failed', 'Failed'],
      ['Code cell 3', 'not_run', 'Not run'],
    ]);
  });
});

describe('papermill metadata', () => {
  it('badges parameters and injected parameters cells', () => {
    renderNotebook(notebook(failedRun()));
    expect(
      screen.getByRole('article', { name: 'Code cell 1' }).querySelector('.nes-badge')?.textContent,
    ).toBe('Parameters');
    expect(
      screen
        .getByRole('article', { name: 'Code cell: injected parameters' })
        .querySelector('.nes-badge')?.textContent,
    ).toBe('Injected parameters');
  });

  it('derives durations from start and end times when duration is absent', () => {
    renderNotebook(
      notebook([
        code('sleep', [], {
          metadata: {
            papermill: {
              status: 'completed',
              start_time: '2026-11-01T10:00:00.000Z',
              end_time: '2026-11-01T10:02:05.000Z',
              exception: false,
            },
          },
        }),
      ]),
    );
    const cell = screen.getByRole('article', { name: 'Code cell 1' });
    expect(cell.querySelector('.nes-duration')?.textContent).toBe('2 min 05 s');
    expect(cell.querySelector('.nes-status')?.textContent).toBe('Done');
  });

  it('formats durations for people', () => {
    expect([0.004, 1.5, 42.25, 125, 3725].map(formatDuration)).toEqual([
      '0.00 s',
      '1.5 s',
      '42.3 s',
      '2 min 05 s',
      '1 h 02 min',
    ]);
  });
});

describe('live run status', () => {
  it('shows each cell status as text, and [*] for the running cell', () => {
    renderNotebook(notebook([code('a'), code('b'), code('c'), code('d')]), {
      cellStates: ['done', 'failed', 'running', 'pending'],
    });
    const shown = [1, 2, 3, 4].map((n) => {
      const cell = screen.getByRole('article', { name: `Code cell ${n}` });
      return [
        cell.querySelector('.nes-status')?.textContent,
        cell.querySelector('.nes-input-prompt')?.textContent,
      ];
    });
    expect(shown).toEqual([
      ['Done', '[1]:'],
      ['Failed', '[1]:'],
      ['Running', '[*]:'],
      ['Pending', '[1]:'],
    ]);
  });
});

describe('hidden inputs', () => {
  it('honours report mode and hide-input tags, keeping outputs', () => {
    const { container } = renderNotebook(
      notebook([
        code('shown = 1'),
        code('secret_1', [stream('out 1\n')], { metadata: { jupyter: { source_hidden: true } } }),
        code('secret_2', [stream('out 2\n')], { metadata: { tags: ['remove_input'] } }),
        code('secret_3', [stream('out 3\n')], { metadata: { tags: ['hide-input'] } }),
      ]),
    );
    expect(Array.from(container.querySelectorAll('.nes-input-code'), (c) => c.textContent)).toEqual(
      ['shown = 1'],
    );
    expect(
      Array.from(container.querySelectorAll('.nes-output-stream'), (c) => c.textContent),
    ).toEqual(['out 1\n', 'out 2\n', 'out 3\n']);
  });

  it('hides every input with hideCode', () => {
    const { container } = renderNotebook(notebook([code('a', [stream('A\n')]), md('# Text')]), {
      hideCode: true,
    });
    expect(container.querySelector('.nes-input')).toBeNull();
    expect(container.querySelector('.nes-output-stream')?.textContent).toBe('A\n');
    expect(container.querySelector('h1')?.textContent).toBe('Text');
  });
});

describe('code', () => {
  it('highlights code in the kernel language once highlight.js has loaded', async () => {
    const { container } = renderNotebook(notebook([code('def f(x):\n    return "s"')]));
    const codeElement = container.querySelector('.nes-input-code code');
    expect(codeElement?.className).toBe('hljs language-python');
    expect(codeElement?.textContent).toBe('def f(x):\n    return "s"');
    await waitFor(() =>
      expect(codeElement?.querySelector('.hljs-keyword')?.textContent).toBe('def'),
    );
    expect(codeElement?.querySelector('.hljs-string')?.textContent).toBe('"s"');
  });

  it.each([
    [{ kernelspec: { language: 'R', name: 'ir' } }, 'language-r', 'function', 'f <- function(x) x'],
    [{ language_info: { name: 'julia' } }, 'language-julia', 'function', 'function f(x) x end'],
    [{ language_info: { name: 'scala' } }, 'language-scala', 'def', 'def f(x: Int) = x'],
    [{ kernelspec: { language: 'sql' } }, 'language-sql', 'SELECT', 'SELECT 1'],
    [{ language_info: { name: 'bash' } }, 'language-bash', 'echo', 'echo hi'],
    [
      { language_info: { name: 'typescript' } },
      'language-typescript',
      'const',
      'const x: number = 1',
    ],
    [{ language_info: { name: 'javascript' } }, 'language-javascript', 'const', 'const x = 1'],
  ])('highlights %j', async (metadata, className, keyword, source) => {
    const { container } = renderNotebook(notebook([code(source)], metadata));
    const codeElement = container.querySelector('.nes-input-code code');
    expect(codeElement?.classList.contains(className)).toBe(true);
    await waitFor(() =>
      expect(
        Array.from(codeElement?.querySelectorAll('[class^="hljs-"]') ?? [], (el) => el.textContent),
      ).toContain(keyword),
    );
  });
});

describe('papermill error cells by tag', () => {
  it('recognises the cells by their tag when the wording differs', () => {
    const { container } = renderNotebook(
      notebook([
        md('<b>Papermill stopped at In [7]</b>', { metadata: TAG }),
        md('<p id="papermill-error-cell">stopped here</p>', { metadata: TAG }),
        code('raise', [], { execution_count: 7 }),
      ]),
    );
    expect(screen.getByRole('alert').textContent).toContain('Execution failed at cell 1');
    expect(container.querySelector('#papermill-error-cell')?.textContent).toBe(
      'Execution stopped here: the next cell raised an exception.',
    );
    // the banner replaces papermill's own wording
    expect(container.textContent).not.toContain('Papermill stopped');
  });
});
