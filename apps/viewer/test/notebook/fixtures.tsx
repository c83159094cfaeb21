/** Small builders for nbformat 4 notebooks used by the renderer's tests. */
import { render } from '@testing-library/react';
import { NotebookView, type NotebookViewProps } from '../../src/notebook/index.ts';
import type {
  Cell,
  CodeCell,
  JsonObject,
  MarkdownCell,
  NotebookJson,
  Output,
} from '../../src/notebook/nbformat.ts';

export const FRAME_ORIGIN = 'http://127.0.0.1:8091';

export function notebook(
  cells: Cell[],
  metadata: JsonObject = { language_info: { name: 'python' } },
): NotebookJson {
  return { nbformat: 4, nbformat_minor: 5, metadata, cells };
}

export function md(source: string, extra: Partial<MarkdownCell> = {}): MarkdownCell {
  return { cell_type: 'markdown', source, metadata: {}, ...extra };
}

export function code(
  source: string,
  outputs: Output[] = [],
  extra: Partial<CodeCell> = {},
): CodeCell {
  return { cell_type: 'code', source, metadata: {}, outputs, execution_count: 1, ...extra };
}

export function stream(text: string, name: 'stdout' | 'stderr' = 'stdout'): Output {
  return { output_type: 'stream', name, text };
}

export function display(data: Record<string, unknown>, metadata: JsonObject = {}): Output {
  return { output_type: 'display_data', data: data as JsonObject, metadata };
}

export function result(data: Record<string, unknown>, count = 1): Output {
  return {
    output_type: 'execute_result',
    data: data as JsonObject,
    metadata: {},
    execution_count: count,
  };
}

/** Renders a notebook in the window-scrolled view; returns the container. */
export function renderNotebook(nb: NotebookJson, props: Partial<NotebookViewProps> = {}) {
  return render(<NotebookView notebook={nb} frameOrigin={FRAME_ORIGIN} {...props} />);
}
