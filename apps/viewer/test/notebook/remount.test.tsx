/**
 * Mounting a cell while the notebook scrolls stays cheap: a long log is
 * converted only in its rendered tail, and a cell scrolled back into view
 * (remounted by the virtual list) converts nothing again.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { STREAM_LIMIT } from '../../src/notebook/outputs/TextOutputs.tsx';
import { code, notebook, renderNotebook, stream } from './fixtures.tsx';

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
