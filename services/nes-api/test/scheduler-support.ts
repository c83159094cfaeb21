/** What the scheduler and executor tests share: a run store, notebooks, waiting. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunStore } from '../src/db/index.ts';
import type { Run, RunSpec } from '../src/runs/run-model.ts';
import type { RunStore } from '../src/runs/run-store.ts';

/** The embedded PGlite run store in `dataDir`. */
export async function openTestStore(dataDir: string): Promise<RunStore> {
  return createRunStore({ dataDir });
}

export function specOf(notebook: string, overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    notebook,
    ref: null,
    commitSha: null,
    parameters: {},
    kernel: 'python3',
    labels: {},
    timeoutSeconds: null,
    resources: null,
    image: null,
    queue: 'default',
    sweepId: null,
    ...overrides,
  };
}

export function workspace(): { root: string; notebooks: string; store: string; work: string } {
  const root = mkdtempSync(join(tmpdir(), 'nes-sched-'));
  const paths = {
    root,
    notebooks: join(root, 'notebooks'),
    store: join(root, 'store'),
    work: join(root, 'work'),
  };
  for (const dir of [paths.notebooks, paths.store, paths.work]) mkdirSync(dir, { recursive: true });
  return paths;
}

/** Writes a python3 notebook whose first cell is tagged `parameters`. */
export function writeNotebook(dir: string, name: string, cells: string[]): string {
  const path = join(dir, name);
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map((source, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: i === 0 ? { tags: ['parameters'] } : {},
      source,
      execution_count: null,
      outputs: [],
    })),
  };
  writeFileSync(path, JSON.stringify(nb));
  return path;
}

export async function waitFor(
  store: RunStore,
  id: string,
  done: (run: Run) => boolean,
  timeoutMs = 30_000,
): Promise<Run> {
  const giveUp = performance.now() + timeoutMs;
  for (;;) {
    const run = await store.getRun(id);
    if (run && done(run)) return run;
    if (performance.now() > giveUp) {
      throw new Error(`run ${id} did not get there in time: ${JSON.stringify(run)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const isTerminal = (run: Run) =>
  ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(run.status);
