/**
 * Runs on forked kernels through the scheduler and the local executor (real sandboxes, servers,
 * template and kernels): a run's kernel is a child of the template (inside its sandbox its parent
 * is outside the pid namespace, so `os.getppid()` is 0) with the template's imports; a forked
 * kernel that dies fails its run as `kernel_died`; a template that dies is restarted and runs go
 * on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

async function run(notebook: string): Promise<Run> {
  const { run } = await store.createRun(specOf(notebook));
  scheduler.submitted(run);
  return waitFor(store, run.id, isTerminal, 120_000);
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
