/** Small builders for test notebooks and a sink that keeps what it was given. */
import { type CodeCell, type MarkdownCell, type Notebook, serializeNotebook } from '@nes/notebook';
import type { NotebookSink } from '../../src/execution-types.ts';

export function code(source: string, tags?: string[]): CodeCell {
  return {
    cell_type: 'code',
    metadata: tags ? { tags } : {},
    source,
    execution_count: null,
    outputs: [],
  };
}

export function markdown(source: string): MarkdownCell {
  return { cell_type: 'markdown', metadata: {}, source };
}

export function notebook(cells: Array<CodeCell | MarkdownCell>, kernel = 'python3'): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: kernel, display_name: kernel, language: 'python' } },
    cells: cells.map((cell, index) => ({ ...cell, id: `cell-${index}` })),
  };
}

/** Serializes every write, as a file sink would, and counts them by reason. */
export class MemorySink implements NotebookSink {
  readonly uri = 'memory://test.ipynb';
  readonly writes: Array<{ reason: 'autosave' | 'final'; text: string }> = [];
  delayMs = 0;
  failAutosaves = false;

  async write(nb: Notebook, reason: 'autosave' | 'final'): Promise<void> {
    const text = serializeNotebook(nb);
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failAutosaves && reason === 'autosave') throw new Error('storage unavailable');
    this.writes.push({ reason, text });
  }

  get last(): string {
    const last = this.writes.at(-1);
    if (!last) throw new Error('nothing was written');
    return last.text;
  }

  count(reason: 'autosave' | 'final'): number {
    return this.writes.filter((write) => write.reason === reason).length;
  }
}
