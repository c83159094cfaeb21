import { screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NotebookView } from '../../src/notebook/index.ts';
import { code, FRAME_ORIGIN, notebook, renderNotebook, stream } from './fixtures.tsx';

// A renderer that fails on one particular text, as a library might on input it did not expect.
vi.mock('../../src/notebook/terminal.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/notebook/terminal.ts')>();
  return {
    ...original,
    ansiToHtml(text: string) {
      if (text.includes('BOOM')) throw new Error('renderer failed on BOOM');
      return original.ansiToHtml(text);
    },
    terminalHtml(text: string) {
      if (text.includes('BOOM')) throw new Error('renderer failed on BOOM');
      return original.terminalHtml(text);
    },
  };
});

afterEach(() => vi.restoreAllMocks());

describe('a cell that cannot be rendered', () => {
  it('shows what went wrong in that cell only, and retries when the cell changes', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {}); // React reports the caught error
    const first = code('a', [stream('fine\n')]);
    const last = code('c', [stream('also fine\n')]);
    const view = renderNotebook(notebook([first, code('b', [stream('BOOM\n')]), last]));
    expect(screen.getByRole('article', { name: 'Cell 2' }).textContent).toBe(
      'This cell could not be shown: renderer failed on BOOM',
    );
    const streams = () =>
      Array.from(view.container.querySelectorAll('.nes-output-stream'), (s) => s.textContent);
    expect(streams()).toEqual(['fine\n', 'also fine\n']);

    const fixed = notebook([first, code('b', [stream('recovered\n')]), last]);
    view.rerender(<NotebookView notebook={fixed} frameOrigin={FRAME_ORIGIN} />);
    expect(streams()).toEqual(['fine\n', 'recovered\n', 'also fine\n']);
    expect(screen.queryByText(/could not be shown/)).toBeNull();
  });
});
