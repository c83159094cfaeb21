/**
 * A batch of claimed runs is launched one by one; an executor that is slow to launch (Kubernetes
 * creates a Job per run) leaves the last runs of the batch 'starting' with no trace in the
 * executor for a while. Reconcile must not take those as never started and launch them again.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Executor, ExecutorUpdate } from '../src/executors/executor.ts';
import type { Run } from '../src/runs/run-model.ts';
import { Scheduler } from '../src/scheduler/scheduler.ts';
import { openTestStore, specOf, workspace } from './scheduler-support.ts';

const LAUNCH_MS = 150;

class SlowLaunchExecutor implements Executor {
  readonly name = 'slow-launch';
  readonly launches: string[] = [];
  readonly #known = new Set<string>();
  async kernels(): Promise<string[]> {
    return ['python3'];
  }
  async launch(run: Run): Promise<void> {
    this.launches.push(run.id);
    await new Promise((resolve) => setTimeout(resolve, LAUNCH_MS));
    this.#known.add(run.id);
  }
  async cancel(): Promise<void> {}
  async observe(runId: string) {
    return { runId, state: this.#known.has(runId) ? ('running' as const) : ('unknown' as const) };
  }
  onUpdate(_listener: (update: ExecutorUpdate) => void): void {}
  async shutdown(): Promise<void> {}
}

const ws = workspace();
const store = await openTestStore(`${ws.root}/db`);
after(() => store.close());

test('runs waiting for their turn in a claimed batch are launched once', async () => {
  const executor = new SlowLaunchExecutor();
  const scheduler = new Scheduler({
    store,
    executor,
    concurrency: 8,
    pollIntervalMs: 50,
    reconcileIntervalMs: 40,
    lostGraceMs: 60,
  });
  const runs = [];
  for (let i = 0; i < 8; i++) runs.push((await store.createRun(specOf('/nb.ipynb'))).run);
  await scheduler.start();
  try {
    const giveUp = performance.now() + 20_000;
    while (new Set(executor.launches).size < runs.length && performance.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // room for a wrong second launch
    assert.deepEqual(
      [...executor.launches].sort(),
      runs.map((run) => run.id).sort(),
      'every run launched exactly once',
    );
    for (const run of runs) {
      assert.equal((await store.getRun(run.id))?.status, 'starting', `${run.id} is not lost`);
    }
  } finally {
    await scheduler.stop(0);
  }
});
