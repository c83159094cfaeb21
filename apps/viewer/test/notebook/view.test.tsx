import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NotebookView, TableOfContents } from '../../src/notebook/index.ts';
import type { NotebookJson } from '../../src/notebook/nbformat.ts';
import { SLOT_HEIGHT } from '../setup.ts';
import { code, FRAME_ORIGIN, md, notebook, renderNotebook, stream } from './fixtures.tsx';

/** Renders of each cell's output area, by cell key: a cell that renders renders its outputs. */
const renders = vi.hoisted(() => new Map<string, number>());

vi.mock('../../src/notebook/outputs/OutputArea.tsx', async (importOriginal) => {
  const original =
    await importOriginal<typeof import('../../src/notebook/outputs/OutputArea.tsx')>();
  return {
    ...original,
    OutputArea(props: Parameters<typeof original.OutputArea>[0]) {
      renders.set(props.cellKey, (renders.get(props.cellKey) ?? 0) + 1);
      return original.OutputArea(props);
    },
  };
});

afterEach(() => renders.clear());

function bigNotebook(count: number): NotebookJson {
  return notebook(
    Array.from({ length: count }, (_, i) =>
      i % 10 === 0
        ? md(`# Section ${i}`, { id: `c${i}` })
        : code(`x = ${i}`, [stream(`${i}\n`)], { id: `c${i}` }),
    ),
  );
}

const shownIndexes = (container: HTMLElement) =>
  Array.from(container.querySelectorAll('[data-index]'), (slot) =>
    Number(slot.getAttribute('data-index')),
  );

/**
 * The index of the rendered cell that sits at `offset` pixels into the list
 * (cells not yet measured are placed by their estimated height, so offsets
 * are read back from the layout rather than computed from SLOT_HEIGHT).
 */
function cellAt(container: HTMLElement, offset: number): number | undefined {
  for (const slot of Array.from(container.querySelectorAll<HTMLElement>('[data-index]'))) {
    const start = Number(/translateY\((-?[\d.]+)px\)/.exec(slot.style.transform)?.[1]);
    if (start <= offset && offset < start + SLOT_HEIGHT)
      return Number(slot.getAttribute('data-index'));
  }
  return undefined;
}

describe('live updates', () => {
  it('re-renders only the cell that changed when a new notebook object arrives', () => {
    const first = notebook([
      code('a = 1', [stream('1\n')], { id: 'a' }),
      code('b = 2', [stream('2\n')], { id: 'b' }),
      code('c = 3', [], { id: 'c', execution_count: null }),
    ]);
    const view = render(<NotebookView notebook={first} frameOrigin={FRAME_ORIGIN} />);
    const before = new Map(renders);
    expect([...before.keys()].sort()).toEqual(['a', 'b', 'c']);

    // the app re-fetches: a fresh parse of the same notebook, where cell c got output
    const next = structuredClone(first);
    const cellC = next.cells[2];
    if (cellC?.cell_type !== 'code') throw new Error('fixture changed');
    cellC.outputs.push(stream('3\n'));
    cellC.execution_count = 3;
    view.rerender(
      <NotebookView notebook={next} frameOrigin={FRAME_ORIGIN} cellStates={undefined} />,
    );

    expect(renders.get('a')).toBe(before.get('a'));
    expect(renders.get('b')).toBe(before.get('b'));
    expect(renders.get('c')).toBe((before.get('c') ?? 0) + 1);
    const outputs = Array.from(
      view.container.querySelectorAll('.nes-output-stream'),
      (o) => o.textContent,
    );
    expect(outputs).toEqual(['1\n', '2\n', '3\n']);
  });

  it('re-renders a cell whose run status changed, and only that one', () => {
    const nb = notebook([code('a', [], { id: 'a' }), code('b', [], { id: 'b' })]);
    const view = render(
      <NotebookView notebook={nb} frameOrigin={FRAME_ORIGIN} cellStates={['running', 'pending']} />,
    );
    const before = new Map(renders);
    view.rerender(
      <NotebookView
        notebook={structuredClone(nb)}
        frameOrigin={FRAME_ORIGIN}
        cellStates={['done', 'pending']}
      />,
    );
    expect(renders.get('a')).toBe((before.get('a') ?? 0) + 1);
    expect(renders.get('b')).toBe(before.get('b'));
    expect(
      screen.getByRole('article', { name: 'Code cell 1' }).querySelector('.nes-status')
        ?.textContent,
    ).toBe('Done');
    // the same states as stable handles for scripts and tests
    expect(
      ['Code cell 1', 'Code cell 2'].map((name) =>
        screen.getByRole('article', { name }).getAttribute('data-state'),
      ),
    ).toEqual(['done', 'pending']);
  });

  it('keeps the scroll position when a new notebook object arrives', async () => {
    const nb = bigNotebook(200);
    const view = render(<NotebookView notebook={nb} frameOrigin={FRAME_ORIGIN} />);
    act(() => window.scrollTo({ top: 5000 }));
    // measuring the cells that came into view corrects the estimates above them; let that settle
    let previous = -1;
    await waitFor(
      () => {
        const settled =
          window.scrollY === previous && cellAt(view.container, window.scrollY) !== undefined;
        previous = window.scrollY;
        expect(settled).toBe(true);
      },
      { interval: 60 },
    );
    const offset = window.scrollY;
    const atTop = cellAt(view.container, offset);
    expect(atTop).toBeGreaterThan(40);
    const scrollTo = vi.spyOn(window, 'scrollTo');
    view.rerender(<NotebookView notebook={structuredClone(nb)} frameOrigin={FRAME_ORIGIN} />);
    expect(window.scrollY).toBe(offset);
    expect(scrollTo).not.toHaveBeenCalled();
    expect(cellAt(view.container, offset)).toBe(atTop);
  });
});

describe('virtualization', () => {
  it('puts only a window of a 2,000-cell notebook in the DOM', async () => {
    const { container } = renderNotebook(bigNotebook(2000));
    const first = shownIndexes(container);
    expect(first[0]).toBe(0);
    // 768px of window / 100px per cell, plus overscan
    expect(first.length).toBeGreaterThan(5);
    expect(first.length).toBeLessThan(30);
    expect(container.querySelectorAll('article').length).toBe(first.length);

    act(() => window.scrollTo({ top: 90000 }));
    await waitFor(() => expect(cellAt(container, 90000)).toBeGreaterThan(1000));
    const later = shownIndexes(container);
    expect(later).not.toContain(0);
    expect(later.length).toBeLessThan(30);
    // a contiguous window around the viewport
    expect(Math.max(...later) - Math.min(...later)).toBe(later.length - 1);
  });

  it('scrolls a given scrolling element instead of the window', async () => {
    const scroller = document.body.appendChild(document.createElement('div'));
    scroller.setAttribute('data-test-height', '500');
    const { container } = render(
      <NotebookView
        notebook={bigNotebook(300)}
        frameOrigin={FRAME_ORIGIN}
        scrollElement={() => scroller}
      />,
      { container: scroller.appendChild(document.createElement('div')) },
    );
    await waitFor(() => expect(shownIndexes(container).length).toBeGreaterThan(0));
    expect(shownIndexes(container).length).toBeLessThan(20);
    expect(window.scrollY).toBe(0);
    act(() => scroller.scrollTo({ top: 12000 }));
    await waitFor(() => expect(cellAt(container, 12000)).toBeGreaterThan(100));
    expect(shownIndexes(container)).not.toContain(0);
    scroller.remove();
  });

  it('scrolls to and highlights the focused cell', async () => {
    const scrollTo = vi.spyOn(window, 'scrollTo');
    const { container } = renderNotebook(bigNotebook(2000), { focusCell: 1234 });
    await waitFor(() => expect(scrollTo).toHaveBeenCalled());
    await waitFor(() => expect(cellAt(container, window.scrollY)).toBe(1234));
    const focused = container.querySelector('.nes-cell-focused');
    // cell index 1234 is the 1111th code cell (every tenth cell is a markdown heading)
    expect(focused?.getAttribute('aria-label')).toBe('Code cell 1111');
  });
});

describe('table of contents', () => {
  const nb = notebook([
    md('# Intro\n\ntext\n\n## Data $x_i$', { id: 'm0' }),
    code('load()'),
    md('Setup\n=====\n\n### `code` step', { id: 'm2' }),
    md('no headings here'),
  ]);

  it('lists markdown headings with levels and reports the cell chosen', () => {
    const onSelect = vi.fn();
    render(<TableOfContents notebook={nb} onSelect={onSelect} />);
    const links = screen.getAllByRole('link');
    expect(links.map((link) => [link.textContent, link.getAttribute('href')])).toEqual([
      ['Intro', '#Intro'],
      ['Data $x_i$', `#${encodeURIComponent('Data-$x_i$')}`],
      ['Setup', '#Setup'],
      ['code step', '#code-step'],
    ]);
    fireEvent.click(screen.getByRole('link', { name: 'Setup' }));
    expect(onSelect).toHaveBeenCalledWith(2);
  });

  it('says so when there are no headings', () => {
    render(<TableOfContents notebook={notebook([md('plain')])} onSelect={() => {}} />);
    expect(document.querySelector('.nes-toc')?.textContent).toBe('No headings.');
  });

  it('gives rendered headings the ids the outline links to, and in-page links scroll there', async () => {
    const cells = bigNotebook(100).cells;
    cells[1] = md('[to section 60](#Section-60)');
    const scrollTo = vi.spyOn(window, 'scrollTo');
    const { container } = renderNotebook(notebook(cells));
    fireEvent.click(screen.getByRole('link', { name: 'to section 60' }));
    await waitFor(() => expect(scrollTo).toHaveBeenCalled());
    await waitFor(() => expect(cellAt(container, window.scrollY)).toBe(60));
    expect(container.querySelector('h1#Section-60')?.textContent).toBe('Section 60');
  });
});

describe('accessibility', () => {
  it('renders cells as labelled articles', () => {
    renderNotebook(
      notebook([md('# A'), code('b'), { cell_type: 'raw', source: 'raw text', metadata: {} }]),
    );
    expect(screen.getAllByRole('article').map((a) => a.getAttribute('aria-label'))).toEqual([
      'Markdown cell',
      'Code cell 1',
      'Raw cell',
    ]);
  });
});
