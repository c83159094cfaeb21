/**
 * Mounting a cell while the notebook scrolls stays cheap: a long log is
 * converted only in its rendered tail, and a cell scrolled back into view
 * (remounted by the virtual list) converts nothing again; a markdown cell
 * never rendered shows its text first and renders in a deferred pass.
 */
import { renderToString } from 'react-dom/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CellView, type CellViewProps } from '../../src/notebook/CellView.tsx';
import { STREAM_LIMIT } from '../../src/notebook/outputs/TextOutputs.tsx';
import { code, FRAME_ORIGIN, md, notebook, renderNotebook, stream } from './fixtures.tsx';

const converted = vi.hoisted(() => ({ texts: [] as string[] }));

vi.mock('ansi_up', async (importOriginal) => {
  const original = await importOriginal<typeof import('ansi_up')>();
  class CountingAnsiUp extends original.AnsiUp {
    override ansi_to_html(text: string): string {
      converted.texts.push(text);
      return super.ansi_to_html(text);
    }
  }
  return { ...original, AnsiUp: CountingAnsiUp };
});

afterEach(() => {
  converted.texts = [];
});

describe('mounting cells', () => {
  it('converts only the tail of a long log, once, however often the cell mounts', () => {
    const log = Array.from({ length: 5000 }, (_, i) => `\x1b[32mstep ${i}\x1b[0m done\n`).join('');
    const nb = notebook([code('train()', [stream(log)], { id: 'train' })]);
    const first = renderNotebook(nb);
    expect(first.container.querySelector('pre.nes-output-stream')?.textContent).toContain(
      'step 4999 done',
    );
    expect(converted.texts).toHaveLength(1);
    expect(converted.texts[0]?.length).toBeLessThanOrEqual(STREAM_LIMIT);
    first.unmount();

    const again = renderNotebook(notebook([code('train()', [stream(log)], { id: 'train' })]));
    expect(again.container.querySelector('pre.nes-output-stream')?.textContent).toContain(
      'step 4999 done',
    );
    expect(converted.texts).toHaveLength(1);
  });
});

describe('mounting markdown cells', () => {
  it('shows a new markdown cell as text first, and one rendered before at once', () => {
    const props: CellViewProps = {
      cell: md('# Fresh heading\n\nsome *emphasis*'),
      index: 0,
      number: 1,
      grammar: null,
      hideCode: false,
      focused: false,
      frameOrigin: FRAME_ORIGIN,
      failingIndex: null,
      failingNumber: null,
      bannerJump: true,
      onJumpToCell: () => {},
    };
    // The first paint of a new cell (the server renderer shows it without the deferred pass).
    const first = renderToString(<CellView {...props} />);
    expect(first).toContain('nes-markdown-pending');
    expect(first).toContain('# Fresh heading');
    expect(first).not.toContain('<h1');

    const { container, unmount } = renderNotebook(notebook([props.cell]));
    expect(container.querySelector('.nes-markdown h1')?.textContent).toBe('Fresh heading');
    expect(container.querySelector('.nes-markdown-pending')).toBeNull();
    unmount();

    const again = renderToString(<CellView {...props} />);
    expect(again).toContain('<em>emphasis</em>');
    expect(again).not.toContain('nes-markdown-pending');
  });
});
