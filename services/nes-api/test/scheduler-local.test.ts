/**
 * The scheduler over the local executor, on real kernels: order and limits, a full run, cancel,
 * deadline, a killed runner, reconcile after a crash, graceful shutdown; warm-pool latency.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalExecutor } from '../src/executors/local-executor.ts';
import type { Run } from '../src/runs/run-model.ts';
import type { RunStore } from '../src/runs/run-store.ts';
import { type RunPublisher, Scheduler } from '../src/scheduler/scheduler.ts';
import {
  isTerminal,
  openTestStore,
  specOf,
  waitFor,
  workspace,
  writeNotebook,
} from './scheduler-support.ts';

const ws = workspace();
const trivial = writeNotebook(ws.notebooks, 'trivial.ipynb', ['x = 1', 'print(x * 2)']);
const greet = writeNotebook(ws.notebooks, 'greet.ipynb', [
  'name = "world"',
  'print("hello " + name)',
]);
const niceness = writeNotebook(ws.notebooks, 'niceness.ipynb', [
  'x = 0',
  'import os; print(os.nice(0))',
]);
const nap = writeNotebook(ws.notebooks, 'nap.ipynb', [
  'seconds = 0.3',
  'import time; print("before", flush=True)',
  'time.sleep(seconds)',
  'print("after")',
]);

let store: RunStore;
let executor: LocalExecutor;
let scheduler: Scheduler;
const published: Run[] = [];
const bus: RunPublisher = {
  publishRun: (run) => published.push(run),
  publishEvent: () => undefined,
};

async function submit(
  notebook: string,
  overrides: Parameters<typeof specOf>[1] = {},
): Promise<Run> {
  const { run } = await store.createRun(specOf(notebook, overrides));
  scheduler.submitted(run);
  return run;
}

function outputPath(run: Run): string {
  assert.ok(run.outputUri, `run ${run.id} has an output URI`);
  return run.outputUri.startsWith('file://') ? fileURLToPath(run.outputUri) : run.outputUri;
}

before(async () => {
  store = await openTestStore(`${ws.root}/db`);
  executor = new LocalExecutor({
    store: ws.store,
    workDir: ws.work,
    warmKernels: { python3: 2 },
    warmWorkers: 1,
    localRoots: [ws.notebooks],
    cancelGraceMs: 5000,
    autosave: { minIntervalMs: 1000, longCellEverySeconds: 1 },
    // Visible to the kernel, small enough not to slow this suite's runs on a busy machine.
    nice: 1,
  });
  scheduler = new Scheduler({ store, executor, bus, concurrency: 1, lostGraceMs: 300 });
  await executor.start();
  await scheduler.start();
});

after(async () => {
  await scheduler.stop(0);
  await store.close();
});

/** Waits until two kernels and a worker are ready, as between bursts of submits. */
async function warm(): Promise<void> {
  const giveUp = performance.now() + 10_000;
  while ((executor.pool?.readyCount('python3') ?? 0) < 2 || executor.warmWorkerCount < 1) {
    if (performance.now() > giveUp) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // A warm worker counts as soon as it is spawned: give it time to load its modules.
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

describe('scheduler with the local executor', () => {
  test('a run succeeds; its notebook has the injected parameters and papermill metadata', async () => {
    const run = await submit(greet, { parameters: { name: 'NES' } });
    const done = await waitFor(store, run.id, isTerminal);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.error, null);
    assert.ok(done.startedAt && done.finishedAt);
    assert.deepEqual(done.progress, { cellsDone: 3, cellsTotal: 3, currentCell: 2 });
    const nb = JSON.parse(readFileSync(outputPath(done), 'utf8'));
    const injected = nb.cells.find((c: { metadata: { tags?: string[] } }) =>
      c.metadata.tags?.includes('injected-parameters'),
    );
    assert.match(injected.source.join?.('') ?? injected.source, /name = "NES"/);
    assert.deepEqual(nb.metadata.papermill.parameters, { name: 'NES' });
    assert.equal(nb.metadata.papermill.exception ?? null, null);
    assert.ok(nb.metadata.papermill.duration >= 0);
    const last = nb.cells.at(-1);
    assert.deepEqual(last.outputs[0].text, ['hello NES\n']);
    const statuses = published.filter((r) => r.id === run.id).map((r) => r.status);
    assert.deepEqual([...new Set(statuses)], ['running', 'succeeded']);
  });

  test("the run's kernel runs at the executor's niceness (runs yield the CPU to the service)", async () => {
    const run = await submit(niceness);
    const done = await waitFor(store, run.id, isTerminal);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const nb = JSON.parse(readFileSync(outputPath(done), 'utf8'));
    // Never below this process's own niceness (a test run under `nice` keeps its value).
    assert.deepEqual(nb.cells.at(-1).outputs[0].text, [`${Math.max(1, getPriority())}\n`]);
  });

  test('warm pool: submit to running and to succeeded, trivial notebook (measured)', async () => {
    await warm();
    const times: Array<{ running: number; succeeded: number }> = [];
    for (let i = 0; i < 3; i += 1) {
      const t0 = performance.now();
      const run = await submit(trivial);
      const running = await waitFor(
        store,
        run.id,
        (r) => r.status !== 'queued' && r.status !== 'starting',
      );
      const t1 = performance.now();
      const done = await waitFor(store, run.id, isTerminal);
      const t2 = performance.now();
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      assert.ok(running);
      times.push({ running: Math.round(t1 - t0), succeeded: Math.round(t2 - t0) });
      await warm();
    }
    console.log(`warm pool latency (ms, submit -> running / succeeded): ${JSON.stringify(times)}`);
  });

  test('three runs with a limit of one run one after another, in submit order', async () => {
    const runs = [await submit(nap), await submit(nap), await submit(nap)];
    const done = await Promise.all(runs.map((r) => waitFor(store, r.id, isTerminal)));
    for (const run of done) assert.equal(run.status, 'succeeded', JSON.stringify(run.error));
    for (let i = 1; i < done.length; i += 1) {
      const previous = done[i - 1] as Run;
      const current = done[i] as Run;
      assert.ok(
        (previous.finishedAt as string) <= (current.startedAt as string),
        `run ${i} started ${current.startedAt} before run ${i - 1} finished ${previous.finishedAt}`,
      );
    }
  });

  test('cancel while running: cancelled, notebook saved', async () => {
    const run = await submit(nap, { parameters: { seconds: 30 } });
    await waitFor(store, run.id, (r) => r.status === 'running');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const t0 = performance.now();
    const asked = await scheduler.cancel(run.id);
    assert.ok(asked?.cancelRequested);
    const done = await waitFor(store, run.id, isTerminal);
    console.log(`cancel to cancelled: ${Math.round(performance.now() - t0)} ms`);
    assert.equal(done.status, 'cancelled');
    assert.equal(done.error?.class, 'cancelled');
    const nb = JSON.parse(readFileSync(outputPath(done), 'utf8'));
    assert.equal(nb.metadata.papermill.exception, true);
    assert.deepEqual(nb.cells[2].outputs[0].text, ['before\n']);
  });

  test('a queued run is cancelled directly', async () => {
    const blocker = await submit(nap, { parameters: { seconds: 2 } });
    const queued = await submit(trivial);
    const cancelled = await scheduler.cancel(queued.id);
    assert.equal(cancelled?.status, 'cancelled');
    await scheduler.cancel(blocker.id);
    await waitFor(store, blocker.id, isTerminal);
  });

  test('run deadline: timed_out, notebook saved', async () => {
    const run = await submit(nap, { parameters: { seconds: 30 }, timeoutSeconds: 2 });
    const done = await waitFor(store, run.id, isTerminal);
    assert.equal(done.status, 'timed_out', JSON.stringify(done.error));
    assert.equal(done.error?.class, 'timeout');
    // The limit as the user set it, not what was left of it when the kernel started.
    assert.equal(done.error?.evalue, 'The run exceeded its deadline of 2 s');
    assert.ok(existsSync(outputPath(done)));
  });

  test('the runner killed with -9: failed as infra, partial output kept', async () => {
    const run = await submit(nap, { parameters: { seconds: 30 } });
    await waitFor(store, run.id, (r) => r.status === 'running' && r.progress.cellsDone >= 3);
    // Kill only once an autosave holds 'before': that is the partial output that must survive.
    // The output URI is recorded with the first autosave, while the run goes on.
    const running = await waitFor(store, run.id, (r) => r.outputUri !== null);
    const autosavedPath = outputPath(running);
    const autosaved = () => {
      try {
        const saved = JSON.parse(readFileSync(autosavedPath, 'utf8'));
        return saved.cells[2].outputs.length > 0;
      } catch {
        return false;
      }
    };
    const giveUp = performance.now() + 15_000;
    while (!autosaved() && performance.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const pid = executor.pidOf(run.id);
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    const done = await waitFor(store, run.id, isTerminal);
    assert.equal(done.status, 'failed');
    assert.equal(done.error?.class, 'infra');
    assert.equal(done.error?.ename, 'RunnerKilled');
    const nb = JSON.parse(readFileSync(outputPath(done), 'utf8'));
    assert.deepEqual(nb.cells[2].outputs[0].text, ['before\n']);
  });

  test('after a crash: a new scheduler fails lost runs and relaunches unstarted ones', async () => {
    // What a process killed mid-run leaves: one run 'running', one claimed but never launched.
    // A database of its own, so the suite's live scheduler cannot claim or reconcile these runs.
    const crashed = await openTestStore(`${ws.root}/db-crashed`);
    const lost = (await crashed.createRun(specOf(nap))).run;
    const unstarted = (await crashed.createRun(specOf(trivial))).run;
    const claimed = await crashed.claimQueued(2);
    assert.deepEqual(claimed.map((r) => r.id).sort(), [lost.id, unstarted.id].sort());
    await crashed.transition(lost.id, 'running', { startedAt: new Date().toISOString() });
    const fresh = new LocalExecutor({
      store: ws.store,
      workDir: ws.work,
      warmKernels: { python3: 1 },
      warmWorkers: 0,
      localRoots: [ws.notebooks],
    });
    const restarted = new Scheduler({
      store: crashed,
      executor: fresh,
      concurrency: 4,
      lostGraceMs: 200,
    });
    await restarted.start();
    try {
      const failed = await waitFor(crashed, lost.id, isTerminal, 5000);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.class, 'infra');
      assert.equal(failed.error?.ename, 'RunLost');
      const relaunched = await waitFor(crashed, unstarted.id, isTerminal);
      assert.equal(relaunched.status, 'succeeded', JSON.stringify(relaunched.error));
      const left = (await crashed.listActive()).filter((r) => !isTerminal(r));
      assert.deepEqual(left, []);
    } finally {
      await restarted.stop(0);
      await crashed.close();
    }
  });

  test('graceful shutdown: intake stops, a long run is cancelled after the grace and saved', async () => {
    const run = await submit(nap, { parameters: { seconds: 30 } });
    await waitFor(store, run.id, (r) => r.status === 'running');
    const t0 = performance.now();
    await scheduler.stop(500);
    const done = await store.getRun(run.id);
    console.log(`shutdown with a 500 ms grace: ${Math.round(performance.now() - t0)} ms`);
    assert.equal(done?.status, 'cancelled', JSON.stringify(done?.error));
    assert.ok(existsSync(outputPath(done as Run)));
    const queued = (await store.createRun(specOf(trivial))).run;
    scheduler.submitted(queued);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await store.getRun(queued.id))?.status, 'queued');
  });
});
