/**
 * Runs on forked kernels through the scheduler and the local executor (real sandboxes, template
 * and kernels): a run's kernel is a child of the template (inside its sandbox its parent is
 * outside the pid namespace, so `os.getppid()` is 0) with the template's imports, driven with no
 * Jupyter Server in its sandbox (its sockets are in the run's directory, which goes with the run);
 * a run past its deadline is interrupted and timed out, a cancelled one cancelled; a forked kernel
 * that dies fails its run as `kernel_died`; a template that dies is restarted and runs go on. With
 * NES_KERNEL_SERVER=per-run the kernel is forked for the run's own Jupyter Server instead.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
const probe = writeNotebook(ws.notebooks, 'probe.ipynb', [
  'x = 1',
  'import os, sys\nprint("ppid", os.getppid(), "numpy" in sys.modules, os.getcwd())',
]);
/** Whether a Jupyter Server runs in the run's sandbox, and the kernel's sockets in its directory. */
const serverless = writeNotebook(ws.notebooks, 'serverless.ipynb', [
  'marker = ""',
  [
    'import os, sys',
    'open(marker, "w").close()',
    'print("ppid", os.getppid(), "numpy" in sys.modules, os.getcwd())',
    'print("sockets", sorted(f for f in os.listdir(".") if f.startswith("k-")))',
    'cmdlines = []',
    'for p in os.listdir("/proc"):',
    '    if p.isdigit():',
    '        try: cmdlines.append(open(f"/proc/{p}/cmdline").read())',
    '        except OSError: pass',
    'print("servers", sum("jupyter_server" in c or "jupyter-server" in c for c in cmdlines))',
  ].join('\n'),
]);
const nap = writeNotebook(ws.notebooks, 'nap.ipynb', [
  'seconds = 600',
  'print("before", flush=True)',
  'import time\ntime.sleep(seconds)',
]);
const dies = writeNotebook(ws.notebooks, 'dies.ipynb', [
  'x = 1',
  'import os, signal; os.kill(os.getpid(), signal.SIGKILL)',
  'print("never")',
]);

let store: RunStore;
let executor: LocalExecutor;
let scheduler: Scheduler;
const bus: RunPublisher = { publishRun: () => undefined, publishEvent: () => undefined };
const warnings: string[] = [];

async function submit(notebook: string, overrides: Parameters<typeof specOf>[1] = {}) {
  const { run } = await store.createRun(specOf(notebook, overrides));
  scheduler.submitted(run);
  return run;
}

async function run(notebook: string, overrides: Parameters<typeof specOf>[1] = {}): Promise<Run> {
  const created = await submit(notebook, overrides);
  return waitFor(store, created.id, isTerminal, 120_000);
}

/** Run directories under the executor's work directory holding `name`. */
function runDirsWith(name: string): string[] {
  return readdirSync(ws.work).filter((dir) => existsSync(join(ws.work, dir, name)));
}

function printed(run: Run): string {
  assert.ok(run.outputUri);
  const path = run.outputUri.startsWith('file://') ? fileURLToPath(run.outputUri) : run.outputUri;
  const nb = JSON.parse(readFileSync(path, 'utf8'));
  return nb.cells
    .flatMap((c: { outputs?: Array<{ text?: string | string[] }> }) => c.outputs ?? [])
    .map((o: { text?: string | string[] }) => [o.text ?? ''].flat().join(''))
    .join('');
}

const forking = process.getuid?.() === 0;

before(async () => {
  store = await openTestStore(`${ws.root}/db`);
  executor = new LocalExecutor({
    store: ws.store,
    workDir: ws.work,
    warmKernels: { python3: 1 },
    warmWorkers: 1,
    localRoots: [ws.notebooks],
    forkKernels: { preload: ['numpy'] },
    log: (level, message) => {
      if (level !== 'info') warnings.push(message);
    },
  });
  scheduler = new Scheduler({ store, executor, bus, concurrency: 1, lostGraceMs: 300 });
  await executor.start();
  await scheduler.start();
});

after(async () => {
  await scheduler.stop(0);
  await store.close();
});

describe('forked kernels in the local executor', { skip: !forking && 'needs root' }, () => {
  test('the template reports its imports; a run executes on a forked kernel', async () => {
    const report = executor.forkTemplate?.report;
    assert.ok(report, 'a fork server runs');
    assert.equal(report.modules.numpy?.ok, true);
    assert.equal(report.modules['ipykernel.kernelapp']?.ok, true);
    for (let i = 0; i < 2; i += 1) {
      const done = await run(probe);
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      assert.match(printed(done), /^ppid 0 True \/home\/run\n/);
    }
  });

  test('no Jupyter Server in the sandbox: sockets in the run directory, removed with it', async () => {
    const done = await run(serverless, { parameters: { marker: 'marker-a' } });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const text = printed(done);
    assert.match(text, /^ppid 0 True \/home\/run\n/);
    assert.match(text, /sockets \['k-1', 'k-2', 'k-3', 'k-4', 'k-5'\]\nservers 0\n/);
    // The run's directory (its sockets with it) goes once its kernel has exited (the run is
    // reported first; the kernel has a grace to shut down by itself).
    const giveUp = performance.now() + 60_000;
    while (runDirsWith('marker-a').length > 0 && performance.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(runDirsWith('marker-a'), []);
  });

  test('a run past its deadline is interrupted and timed out; a cancelled one is cancelled', async () => {
    const late = await run(nap, { timeoutSeconds: 2 });
    assert.equal(late.status, 'timed_out', JSON.stringify(late.error));
    assert.equal(late.error?.class, 'timeout');
    assert.match(printed(late), /^before\n/);
    const running = await submit(nap);
    await waitFor(
      store,
      running.id,
      (r) => r.status === 'running' && r.progress.cellsDone >= 2,
      120_000,
    );
    await scheduler.cancel(running.id);
    const cancelled = await waitFor(store, running.id, isTerminal, 120_000);
    assert.equal(cancelled.status, 'cancelled', JSON.stringify(cancelled.error));
    assert.equal(cancelled.error?.class, 'cancelled');
  });

  test('a forked kernel that dies fails its run as kernel_died', async () => {
    const done = await run(dies);
    assert.equal(done.status, 'failed');
    assert.equal(done.error?.class, 'kernel_died', JSON.stringify(done.error));
  });

  test('a template that dies is restarted, and runs go on', async () => {
    const template = executor.forkTemplate;
    assert.ok(template?.pid);
    const first = template.pid;
    process.kill(first, 'SIGKILL');
    const giveUp = performance.now() + 30_000;
    while ((template.pid === first || template.report === null) && performance.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.notEqual(template.pid, first);
    assert.equal(template.restarts, 1);
    assert.ok(
      warnings.some((w) => w.includes('kernel fork server died')),
      warnings.join('\n'),
    );
    // A kernel the warm pool started while the template was down fell back to a normal start
    // (ppid inside the sandbox, no template imports): such runs must still succeed. Once the
    // pool has turned over, kernels are forked from the new template again.
    const seen: string[] = [];
    while (seen.length < 4 && !seen.at(-1)?.startsWith('ppid 0 True')) {
      const done = await run(probe);
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      seen.push(printed(done));
    }
    assert.match(seen.at(-1) ?? '', /^ppid 0 True/, seen.join(''));
    const next = await run(probe);
    assert.match(printed(next), /^ppid 0 True/);
  });
});

describe('NES_KERNEL_SERVER=per-run', { skip: !forking && 'needs root' }, () => {
  let perRun: LocalExecutor;
  let perRunScheduler: Scheduler;
  let perRunStore: RunStore;

  before(async () => {
    // A store of its own: the other scheduler must not claim these runs.
    perRunStore = await openTestStore(`${ws.root}/db-per-run`);
    perRun = new LocalExecutor({
      store: ws.store,
      workDir: `${ws.work}-per-run`,
      warmKernels: { python3: 1 },
      warmWorkers: 1,
      localRoots: [ws.notebooks],
      forkKernels: { preload: ['numpy'] },
      kernelServer: 'per-run',
    });
    perRunScheduler = new Scheduler({
      store: perRunStore,
      executor: perRun,
      bus,
      concurrency: 1,
      lostGraceMs: 300,
    });
    await perRun.start();
    await perRunScheduler.start();
  });

  after(async () => {
    await perRunScheduler.stop(0);
    await perRunStore.close();
  });

  test('a run gets a Jupyter Server of its own, with a forked kernel on it', async () => {
    const { run: created } = await perRunStore.createRun(
      specOf(serverless, { parameters: { marker: 'marker-b' } }),
    );
    perRunScheduler.submitted(created);
    const done = await waitFor(perRunStore, created.id, isTerminal, 120_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const text = printed(done);
    assert.match(text, /^ppid 0 True \/home\/run\n/);
    assert.match(text, /sockets \[\]\nservers [1-9]\n/);
  });
});
