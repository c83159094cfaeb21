/**
 * What the pages read from a run's notebook: each cell's run state (for the live view), its
 * duration (papermill's per-cell metadata), and the cell alignment of two runs (compare). Typed
 * structurally so it works on any parsed nbformat 4 notebook.
 */
import { isTerminal, type Run } from '@nes/client';
import { authorCellNumbers } from '../../notebook/papermill.ts';

export type CellState = 'pending' | 'running' | 'done' | 'failed' | 'not_run' | 'stopped';

export interface CellLike {
  cell_type: string;
  id?: string;
  source?: string | string[];
  metadata?: Record<string, unknown>;
  outputs?: unknown[];
}

export interface NotebookLike {
  cells: CellLike[];
}

function papermillStatus(cell: CellLike): string | undefined {
  const pm = cell.metadata?.papermill as { status?: unknown } | undefined;
  return typeof pm?.status === 'string' ? pm.status : undefined;
}

/**
 * Per cell: `done`, `running`, `failed`, `pending`, or undefined (markdown and raw cells, and
 * every cell of a succeeded run: nothing to mark). While the run goes, progress decides (the
 * autosaved notebook may lag it by a second); once it ended, the notebook's own papermill record
 * does, and `error.cellIndex` (an index into the output notebook) is the failed cell. In a
 * finished run a cell that never ran is `not_run` (not "pending": nothing will run it), and the
 * cell that was running when the run was cancelled or timed out is `stopped`, not `failed`.
 */
export function cellStates(
  notebook: NotebookLike,
  run: Pick<Run, 'status' | 'progress' | 'error'>,
): Array<CellState | undefined> {
  const cells = Array.isArray(notebook?.cells) ? notebook.cells : [];
  if (run.status === 'succeeded') return cells.map(() => undefined);
  if (isTerminal(run.status)) {
    const failedAt = run.error?.cellIndex ?? null;
    const stopped =
      run.status === 'cancelled' ||
      run.status === 'timed_out' ||
      run.error?.class === 'cancelled' ||
      run.error?.class === 'timeout';
    return cells.map((cell, index) => {
      if (cell?.cell_type !== 'code') return undefined;
      const status = papermillStatus(cell);
      if (index === failedAt) return stopped ? 'stopped' : 'failed';
      if (status === 'completed') return 'done';
      // The runner marks the cell it interrupted failed; in a stopped run that cell was stopped.
      if (status === 'failed' || status === 'running') return stopped ? 'stopped' : 'failed';
      return 'not_run';
    });
  }
  if (run.status !== 'running') {
    return cells.map((cell) => (cell?.cell_type === 'code' ? 'pending' : undefined));
  }
  const current = run.progress?.currentCell ?? null;
  const done = run.progress?.cellsDone ?? 0;
  let codeSeen = 0;
  return cells.map((cell, index) => {
    if (cell?.cell_type !== 'code') return undefined;
    codeSeen += 1;
    if (current === null) return codeSeen <= done ? 'done' : 'pending';
    if (index < current) return 'done';
    if (index > current) return 'pending';
    // The current cell stays current after it finishes, until the next one starts.
    return codeSeen <= done ? 'done' : 'running';
  });
}

export interface CellDuration {
  index: number;
  /** `Cell n` (the author's numbering, `authorCellNumbers`), or `Parameters` for the injected cell. */
  label: string;
  ms: number;
  status: string | undefined;
  /** The first line of its source, for a tooltip and the list. */
  summary: string;
}

function sourceText(cell: CellLike): string {
  const source = cell?.source;
  if (Array.isArray(source)) return source.join('');
  return typeof source === 'string' ? source : '';
}

/**
 * Durations of code cells from `metadata.papermill` (duration in seconds, or start/end times),
 * slowest first: the panel answers "where did the time go".
 */
export function cellDurations(notebook: NotebookLike): CellDuration[] {
  const out: CellDuration[] = [];
  const cells = Array.isArray(notebook?.cells) ? notebook.cells : [];
  const numbers = authorCellNumbers(cells);
  cells.forEach((cell, index) => {
    if (cell?.cell_type !== 'code') return;
    const number = numbers[index] ?? null;
    const pm = cell.metadata?.papermill as
      | { duration?: unknown; start_time?: unknown; end_time?: unknown; status?: unknown }
      | undefined;
    if (!pm) return;
    let ms: number | null = null;
    if (typeof pm.duration === 'number' && Number.isFinite(pm.duration)) ms = pm.duration * 1000;
    else if (typeof pm.start_time === 'string' && typeof pm.end_time === 'string') {
      const span = Date.parse(pm.end_time) - Date.parse(pm.start_time);
      if (Number.isFinite(span)) ms = span;
    }
    if (ms === null || ms < 0) return;
    const firstLine =
      sourceText(cell)
        .split('\n')
        .find((line) => line.trim()) ?? '';
    out.push({
      index,
      label: number !== null ? `Cell ${number}` : 'Parameters',
      ms,
      status: typeof pm.status === 'string' ? pm.status : undefined,
      summary: firstLine.trim().slice(0, 80),
    });
  });
  return out.sort((a, b) => b.ms - a.ms || a.index - b.index);
}

export interface CellPair {
  /** Index in each notebook, or null when the cell is only on one side. */
  a: number | null;
  b: number | null;
  /** Same type, source and outputs on both sides. */
  same: boolean;
}

/**
 * Aligns two notebooks' cells: by cell id where both carry ids, else by position. Between two
 * matched cells, the cells only one side has are paired in order (a run's injected parameters
 * cell gets a new id per run, yet is "the same cell"); what is left over stands alone.
 */
export function alignCells(a: NotebookLike, b: NotebookLike): CellPair[] {
  const left = Array.isArray(a?.cells) ? a.cells : [];
  const right = Array.isArray(b?.cells) ? b.cells : [];
  const ids = (cells: CellLike[]) => cells.every((c) => typeof c?.id === 'string' && c.id !== '');
  const anchors: Array<[number, number]> = [];
  if (left.length > 0 && right.length > 0 && ids(left) && ids(right)) {
    const rightIndex = new Map(right.map((cell, index) => [cell.id as string, index]));
    let j = 0;
    for (let i = 0; i < left.length; i++) {
      const match = rightIndex.get(left[i]?.id as string);
      if (match !== undefined && match >= j) {
        anchors.push([i, match]);
        j = match + 1;
      }
    }
  }
  anchors.push([left.length, right.length]); // the end closes the last gap
  const pairs: CellPair[] = [];
  let i = 0;
  let j = 0;
  for (const [ai, bj] of anchors) {
    for (; i < ai && j < bj; i++, j++)
      pairs.push({ a: i, b: j, same: sameCell(left[i], right[j]) });
    for (; i < ai; i++) pairs.push({ a: i, b: null, same: false });
    for (; j < bj; j++) pairs.push({ a: null, b: j, same: false });
    if (ai < left.length && bj < right.length) {
      pairs.push({ a: ai, b: bj, same: sameCell(left[ai], right[bj]) });
      i = ai + 1;
      j = bj + 1;
    }
  }
  return pairs;
}

function sameCell(x: CellLike | undefined, y: CellLike | undefined): boolean {
  if (!x || !y || x.cell_type !== y.cell_type) return false;
  if (sourceText(x) !== sourceText(y)) return false;
  return JSON.stringify(stripVolatile(x.outputs)) === JSON.stringify(stripVolatile(y.outputs));
}

/** Execution counts and output metadata differ between identical runs; they are not "changes". */
function stripVolatile(outputs: unknown[] | undefined): unknown[] {
  return (outputs ?? []).map((output) => {
    if (typeof output !== 'object' || output === null) return output;
    const {
      execution_count: _count,
      metadata: _metadata,
      ...rest
    } = output as Record<string, unknown>;
    return rest;
  });
}

export interface CellDurationChange {
  /** `Cell n` or `Parameters`, as the later run numbers it (the earlier one's when it is gone). */
  label: string;
  summary: string;
  beforeMs: number | null;
  afterMs: number | null;
  /** afterMs - beforeMs when both ran. */
  deltaMs: number | null;
  /** Counted slower: at least 10% and 100 ms more than before. */
  slower: boolean;
}

/**
 * "Which cell got slower" between two runs of a notebook: the cells aligned as the compare page
 * aligns them (by id, else position), each with its duration in both runs (papermill's
 * metadata), the biggest slowdowns first; cells that ran on one side only come last.
 */
export function cellDurationChanges(
  before: NotebookLike,
  after: NotebookLike,
): CellDurationChange[] {
  const earlier = new Map(cellDurations(before).map((d) => [d.index, d]));
  const later = new Map(cellDurations(after).map((d) => [d.index, d]));
  const changes: CellDurationChange[] = [];
  const add = (a: CellDuration | undefined, b: CellDuration | undefined) => {
    const shown = b ?? a;
    if (!shown) return;
    const deltaMs = a && b ? b.ms - a.ms : null;
    changes.push({
      label: shown.label,
      summary: shown.summary,
      beforeMs: a?.ms ?? null,
      afterMs: b?.ms ?? null,
      deltaMs,
      slower: a !== undefined && deltaMs !== null && deltaMs >= Math.max(100, a.ms * 0.1),
    });
  };
  for (const pair of alignCells(before, after)) {
    const a = pair.a === null ? undefined : earlier.get(pair.a);
    const b = pair.b === null ? undefined : later.get(pair.b);
    // Cells paired only by position (one removed, another added) are two cells, not one.
    const one =
      a !== undefined &&
      b !== undefined &&
      (sameId(before.cells[a.index], after.cells[b.index]) ||
        sourceText(before.cells[a.index] as CellLike) ===
          sourceText(after.cells[b.index] as CellLike) ||
        (a.label === 'Parameters' && b.label === 'Parameters'));
    if (one || a === undefined || b === undefined) add(a, b);
    else {
      add(a, undefined);
      add(undefined, b);
    }
  }
  return changes
    .map((change, order) => ({ change, order }))
    .sort(
      (x, y) =>
        (y.change.deltaMs ?? Number.NEGATIVE_INFINITY) -
          (x.change.deltaMs ?? Number.NEGATIVE_INFINITY) || x.order - y.order,
    )
    .map(({ change }) => change);
}

function sameId(x: CellLike | undefined, y: CellLike | undefined): boolean {
  return typeof x?.id === 'string' && x.id !== '' && x.id === y?.id;
}
