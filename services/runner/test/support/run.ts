/** Runs a notebook the way the tests need: in memory, validated by nbformat afterwards. */
import assert from 'node:assert/strict';
import type { CodeCell, MarkdownCell, Notebook } from '@nes/notebook';
import { executeNotebook } from '../../src/execute.ts';
import type {
  ExecuteOptions,
  ExecuteResult,
  JupyterServerTarget,
  RunEvent,
} from '../../src/execution-types.ts';
import { validateWithNbformat } from './nbformat-validate.ts';
import { MemorySink, notebook } from './notebooks.ts';

export interface TestRun {
  result: ExecuteResult;
  sink: MemorySink;
  events: RunEvent[];
  /** The final notebook as written, parsed back. */
  saved: Notebook;
  elapsedMs: number;
}

export async function runCells(
  cells: Array<CodeCell | MarkdownCell>,
  options: Partial<ExecuteOptions> & { server?: JupyterServerTarget } = {},
): Promise<TestRun> {
  const sink = new MemorySink();
  const events: RunEvent[] = [];
  const { server, ...rest } = options;
  const started = performance.now();
  const result = await executeNotebook({
    notebook: notebook(cells),
    sink,
    ...(server ? { jupyter: server } : {}),
    onEvent: (event) => events.push(event),
    ...rest,
  });
  const elapsedMs = performance.now() - started;
  assert.equal(sink.writes.at(-1)?.reason, 'final', 'the last write is the final save');
  validateWithNbformat(sink.last);
  const saved = JSON.parse(sink.last) as Notebook;
  return { result, sink, events, saved, elapsedMs };
}

/** nbformat writes multi-line strings as line arrays: join them back. */
export function joined(text: string | string[]): string {
  return Array.isArray(text) ? text.join('') : text;
}

export function codeCell(nb: Notebook, index: number): CodeCell {
  const cell = nb.cells[index];
  assert.equal(cell?.cell_type, 'code', `cell ${index} is a code cell`);
  return cell as CodeCell;
}
