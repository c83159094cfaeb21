/** Child of scheduler-crash.test.ts: launches one long run, reports its worker pid, waits. */
import { LocalExecutor } from '../src/executors/local-executor.ts';
import type { Run } from '../src/runs/run-model.ts';
import { specOf } from './scheduler-support.ts';

const [store, work, notebooks, notebook] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const executor = new LocalExecutor({
  store,
  workDir: work,
  warmKernels: { python3: 1 },
  warmWorkers: 0,
  localRoots: [notebooks],
  autosave: { minIntervalMs: 1000, longCellEverySeconds: 1 },
});
const now = new Date().toISOString();
const run: Run = {
  ...specOf(notebook, { parameters: { seconds: 60 } }),
  id: 'crash-1',
  status: 'starting',
  createdAt: now,
  startedAt: null,
  finishedAt: null,
  progress: { cellsDone: 0, cellsTotal: 0, currentCell: null },
  error: null,
  outputUri: null,
  cancelRequested: false,
};
executor.onUpdate((update) => {
  if (update.type === 'progress' && update.progress.cellsDone >= 3) {
    process.stdout.write(`${JSON.stringify({ pid: executor.pidOf(run.id) })}\n`);
  }
});
await executor.launch(run);
