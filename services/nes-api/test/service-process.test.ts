/**
 * The service as a process (startService in a child, as `nes serve` runs it): killed with -9
 * mid-run and started again on the same data directory, no run stays non-terminal and the
 * partial notebook is kept; stopped with SIGTERM, a short run finishes within the grace period
 * and a long one is cancelled and saved; the exit is clean either way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRunStore } from '../src/db/index.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { type Api, alive, printed, spawnService } from './service-support.ts';

const ws = workspace();
const sleepy = writeNotebook(ws.notebooks, 'sleepy.ipynb', [
  'seconds = 60',
  'import time; print("before", flush=True)',
  'time.sleep(seconds)',
  'print("after")',
]);

async function waitPrinted(api: Api, id: string, text: string): Promise<void> {
  const giveUp = performance.now() + 20_000;
  for (;;) {
    const response = await api.request('GET', `/v1/runs/${id}/notebook`);
    if (response.status === 200 && printed(response.body).includes(text)) return;
    if (performance.now() > giveUp) throw new Error(`no "${text}" in run ${id}'s notebook`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('the API killed with -9 mid-run and restarted: the run ends failed, its partial notebook kept', async () => {
  const dataDir = join(ws.root, 'data-crash');
  const env = { NES_DATA_DIR: dataDir, NES_NOTEBOOK_ROOTS: ws.notebooks };
  const first = await spawnService(env);
  const submitted = await first.api.submit({ notebook: sleepy });
  await first.api.waitFor(submitted.id, (run) => run.status === 'running');
  await waitPrinted(first.api, submitted.id, 'before'); // an autosave reached the store
  first.child.kill('SIGKILL');
  await first.exited;

  const t0 = performance.now();
  const second = await spawnService(env);
  console.log(`restarted in ${Math.round(performance.now() - t0)} ms`);
  try {
    assert.equal(second.api.token, first.api.token, 'the admin token survives a restart');
    const run = await second.api.waitFor(submitted.id, (r) => r.status !== 'running', 20_000);
    console.log(`restart to the lost run failed: ${Math.round(performance.now() - t0)} ms`);
    assert.equal(run.status, 'failed');
    assert.equal(run.error?.class, 'infra');
    const active = await second.api.request<{ runs: unknown[] }>(
      'GET',
      '/v1/runs?status=queued&status=starting&status=running',
    );
    assert.deepEqual(active.body.runs, [], 'no run left non-terminal');
    const nb = await second.api.notebook(run.id);
    assert.match(printed(nb), /before/, 'the partial output is kept');
    assert.doesNotMatch(printed(nb), /after/);

    // The restarted service runs new work as usual.
    const next = await second.api.submit({ notebook: sleepy, parameters: { seconds: 0 } });
    assert.equal((await second.api.waitTerminal(next.id)).status, 'succeeded');
  } finally {
    second.child.kill('SIGTERM');
    const exit = await second.exited;
    assert.equal(exit.code, 0, second.stderr());
  }
});

test('SIGTERM: a short run finishes within the grace, a long one is cancelled and saved; clean exit', async () => {
  const dataDir = join(ws.root, 'data-term');
  const service = await spawnService({
    NES_DATA_DIR: dataDir,
    NES_NOTEBOOK_ROOTS: ws.notebooks,
    NES_SHUTDOWN_GRACE_SECONDS: '3',
    NES_CONCURRENCY: '2',
  });
  const long = await service.api.submit({ notebook: sleepy });
  const short = await service.api.submit({ notebook: sleepy, parameters: { seconds: 1.5 } });
  for (const id of [long.id, short.id]) {
    await service.api.waitFor(id, (run) => run.status === 'running' && run.progress.cellsDone >= 2);
  }
  const t0 = performance.now();
  service.child.kill('SIGTERM');
  const exit = await service.exited;
  const took = performance.now() - t0;
  console.log(`SIGTERM to exit: ${Math.round(took)} ms (grace 3 s)`);
  assert.equal(exit.code, 0, service.stderr());
  assert.ok(took < 15_000, `stopped in ${took} ms`);
  assert.equal(alive(service.child.pid as number), false);

  const store = await createRunStore({ dataDir });
  try {
    const shortRun = await store.getRun(short.id);
    const longRun = await store.getRun(long.id);
    assert.equal(shortRun?.status, 'succeeded', JSON.stringify(shortRun?.error));
    assert.equal(longRun?.status, 'cancelled', JSON.stringify(longRun?.error));
    assert.ok(longRun?.outputUri?.startsWith('file://'), String(longRun?.outputUri));
    const nb = JSON.parse(readFileSync(new URL(String(longRun?.outputUri)), 'utf8'));
    assert.equal(nb.metadata.papermill.exception, true);
    assert.match(printed(nb), /before/);
  } finally {
    await store.close();
  }
});
