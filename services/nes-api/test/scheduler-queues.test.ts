/**
 * Per-queue limits, as sweeps use them: with room for four runs globally, a queue limited to one
 * starts its runs one at a time while other queues go on. The executor is a recorder that never
 * finishes a run, so what is launched is exactly what the limits allowed.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Executor, ExecutorUpdate } from '../src/executors/executor.ts';
import type { Run } from '../src/runs/run-model.ts';
import { Scheduler } from '../src/scheduler/scheduler.ts';
import { openTestStore, specOf, workspace } from './scheduler-support.ts';

class RecordingExecutor implements Executor {
  readonly name = 'recording';
  readonly launched: Run[] = [];
  async kernels(): Promise<string[]> {
    return ['python3'];
  }
  async launch(run: Run): Promise<void> {
    this.launched.push(run);
  }
  async cancel(): Promise<void> {}
  async observe(runId: string) {
    return { runId, state: 'running' as const };
  }
  onUpdate(_listener: (update: ExecutorUpdate) => void): void {}
  async shutdown(): Promise<void> {}
}

const ws = workspace();
const store = await openTestStore(`${ws.root}/db`);
after(() => store.close());

test('a queue limited to one starts one run at a time; other queues are not held back', async () => {
  const executor = new RecordingExecutor();
  const scheduler = new Scheduler({ store, executor, concurrency: 4, pollIntervalMs: 50 });
  scheduler.limitQueue('sweep-a', 1);
  const sweep = [];
  for (let i = 0; i < 3; i++) {
    sweep.push((await store.createRun(specOf('/nb.ipynb', { queue: 'sweep-a' }))).run);
  }
  const other = (await store.createRun(specOf('/nb.ipynb'))).run;
  await scheduler.start();
  try {
    const giveUp = performance.now() + 5000;
    while (executor.launched.length < 2 && performance.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // room for a wrong third launch
    assert.deepEqual(
      executor.launched.map((run) => run.id).sort(),
      [sweep[0]?.id, other.id].sort(),
      'the first sweep run (submit order) and the other queue run',
    );
  } finally {
    await scheduler.stop(0);
  }
});
