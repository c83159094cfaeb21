/**
 * The Kubernetes executor's contract, with the real client library against the fake cluster
 * (test/servers/kubernetes: API server checked against the official spec, Job controller, and a
 * kubelet running the real nes-run): the scheduler claims runs from a real run store, the Jobs run
 * the real runner, and every failure the cluster can produce is injected with the server's faults.
 * After each test, no request the executor made may violate the spec.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { buildRunJob } from '../src/executors/kubernetes/job-builder.ts';
import { podLogKey } from '../src/executors/kubernetes/pod-log-archive.ts';
import { parseLogLine } from '../src/executors/kubernetes/pod-logs.ts';
import { RunnerLogReader } from '../src/executors/kubernetes/runner-log.ts';
import type { Run } from '../src/runs/run-model.ts';
import type { RunStore } from '../src/runs/run-store.ts';
import {
  type FakeCluster,
  k8sSettings,
  k8sWorkspace,
  notebook,
  outputNotebook,
  podsOf,
  type Replica,
  specOf,
  startFakeCluster,
  startReplica,
  submit,
  until,
  type Workspace,
  waitFor,
} from './k8s-executor-support.ts';
import { isTerminal, openTestStore } from './scheduler-support.ts';

let cluster: FakeCluster;
let ws: Workspace;
let store: RunStore;
let replica: Replica;

const running = (run: Run) => run.status === 'running' || isTerminal(run);
const podName = (runId: string) =>
  until(
    `a running pod for ${runId}`,
    () => podsOf(cluster, runId).find((pod) => pod.status?.phase === 'Running')?.metadata.name,
  );

before(async () => {
  cluster = await startFakeCluster({ namespaces: ['nes-runs', 'nes-queued'] });
  ws = k8sWorkspace();
  store = await openTestStore(join(ws.root, 'db'));
  replica = await startReplica(cluster, store, ws);
});

after(async () => {
  await replica.stop();
  await cluster.close();
  await store.close();
});

afterEach(() => {
  assert.deepEqual(cluster.specViolations, [], 'every request matches the official spec');
});

describe('Kubernetes executor against the fake cluster', { concurrency: 2 }, () => {
  test('launch -> succeeded: notebook in the store, progress, log archived', async () => {
    const nb = notebook(ws, 'hello.ipynb', ['name = "x"', 'print("hello " + name)', 'y = 2']);
    const run = await submit(store, replica.scheduler, specOf(nb, { parameters: { name: 'k8s' } }));
    const done = await waitFor(store, run.id, isTerminal, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.error, null);
    assert.ok(done.startedAt, 'went through running');
    assert.deepEqual(done.progress, { cellsDone: 4, cellsTotal: 4, currentCell: 3 });
    assert.ok(done.outputUri?.endsWith(`runs/${run.id}/output.ipynb`), String(done.outputUri));
    const output = outputNotebook(ws, run.id);
    const printed = JSON.stringify(output.cells.map((cell) => cell.outputs ?? []));
    assert.match(printed, /hello k8s/);
    const job = cluster.get<{
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    }>('Job', 'nes-runs', `nes-${run.id}`);
    assert.ok(job, 'the Job is kept for the retention time');
    // The pod's log went to the store (the lease holder archives it).
    const logFile = join(ws.store, podLogKey(run.id));
    await until('the archived pod log', () => existsSync(logFile));
    const archived = readFileSync(logFile, 'utf8');
    assert.match(archived, /"type":"cell_finished"/);
    assert.match(archived, /nes-run: succeeded/);
    const events = await store.listEvents(run.id, 0);
    assert.ok(
      events.some((event) => event.type === 'log'),
      'runner lines became log events',
    );
  });

  test("cell output becomes the run's log events: in order, once, each stream kept, masked", async () => {
    const nb = notebook(ws, 'prints.ipynb', [
      'api_key = "default"\nimport sys, time',
      'for i in range(6):\n    print(f"line {i}", flush=True)\n    time.sleep(0.05)',
      'print("to stderr", file=sys.stderr)',
      'print(\'{"type":"saved","time":"t","uri":"gs://elsewhere/x.ipynb"}\')',
      'print("key is", api_key)',
      'print("last")',
    ]);
    const secret = 'sk-live-123456';
    const run = await submit(
      store,
      replica.scheduler,
      specOf(nb, { parameters: { api_key: secret } }),
    );
    const done = await waitFor(store, run.id, isTerminal, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const logs = (await store.listEvents(run.id, 0))
      .filter((event) => event.type === 'log')
      .map((event) => event.data as { time: string; stream: string; text: string });
    const text = (stream: string) =>
      logs
        .filter((line) => line.stream === stream)
        .map((line) => line.text)
        .join('');
    const printed = ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5'];
    const spoof = '{"type":"saved","time":"t","uri":"gs://elsewhere/x.ipynb"}';
    assert.equal(text('stdout'), `${[...printed, spoof, 'key is ***', 'last'].join('\n')}\n`);
    assert.ok(!JSON.stringify(logs).includes(secret), 'a secret parameter is masked in output');
    assert.equal(text('stderr'), 'to stderr\n');
    // Cell output never reads as the runner's own lines or events.
    assert.ok(!text('runner').includes('line 0'), text('runner'));
    assert.ok(done.outputUri?.endsWith(`runs/${run.id}/output.ipynb`), String(done.outputUri));
    // Stored in the order the pod printed them.
    const times = logs.map((line) => line.time);
    assert.deepEqual(times, [...times].sort());
  });

  test('409 AlreadyExists: the executor adopts the Job it finds', async () => {
    const nb = notebook(ws, 'adopt.ipynb', ['a = 1', 'print(a)']);
    const { run } = await store.createRun(specOf(nb));
    const job = buildRunJob(run, k8sSettings(ws));
    const batch = cluster.kubeConfig().makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({ namespace: 'nes-runs', body: job });
    replica.scheduler.wake();
    const done = await waitFor(store, run.id, isTerminal, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const creates = cluster.requests.filter(
      (r) =>
        r.method === 'POST' &&
        r.path === '/apis/batch/v1/namespaces/nes-runs/jobs' &&
        JSON.stringify(r.body ?? '').includes(run.id),
    );
    assert.deepEqual(
      creates.map((r) => r.status),
      [201, 409],
    );
    assert.equal(podsOf(cluster, run.id).length, 1, 'one Job, one pod');
  });

  test('cancel -> the Job is deleted with Background propagation, the run ends cancelled', async () => {
    const nb = notebook(ws, 'cancel.ipynb', ['x = 1', 'import time\ntime.sleep(120)', 'y = 2']);
    const run = await submit(store, replica.scheduler, specOf(nb));
    await waitFor(store, run.id, (r) => r.progress.currentCell === 1 || isTerminal(r), 90_000);
    await replica.scheduler.cancel(run.id);
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.status, 'cancelled', JSON.stringify(done.error));
    assert.equal(done.error?.class, 'cancelled');
    const deletes = cluster.requests.filter(
      (r) =>
        r.method === 'DELETE' && r.path === `/apis/batch/v1/namespaces/nes-runs/jobs/nes-${run.id}`,
    );
    assert.equal(deletes.length, 1);
    assert.equal(
      deletes[0]?.query?.propagationPolicy ??
        (deletes[0]?.body as { propagationPolicy?: string })?.propagationPolicy,
      'Background',
    );
    // The runner saved the notebook as cancelled within the grace period.
    const output = outputNotebook(ws, run.id);
    assert.ok(output.cells.length >= 3);
    // The archived pod log is whole: at least every line the run's log has (a pod being deleted
    // may answer the final read with less than was followed).
    const archived = join(ws.store, podLogKey(run.id));
    await until('the pod log archived', () => existsSync(archived));
    const logged = (await store.listEvents(run.id)).filter((e) => e.type === 'log').length;
    const lines = readFileSync(archived, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(logged > 0 && lines >= logged, `${lines} archived lines, ${logged} logged`);
    await until(
      'the pod removed by the garbage collector',
      () => podsOf(cluster, run.id).length === 0,
    );
  });

  test('OOMKilled -> failed oom', async () => {
    const nb = notebook(ws, 'oom.ipynb', ['x = 1', 'import time\ntime.sleep(120)']);
    const run = await submit(store, replica.scheduler, specOf(nb));
    await waitFor(store, run.id, (r) => r.progress.currentCell === 1 || isTerminal(r), 90_000);
    cluster.faults.oomKill(await podName(run.id));
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.status, 'failed');
    assert.equal(done.error?.class, 'oom');
    assert.equal(done.error?.ename, 'OOMKilled');
  });

  test('eviction: the Job replaces the pod and the run continues on it', async () => {
    const nb = notebook(ws, 'evict.ipynb', [
      'x = 1',
      'import time\ntime.sleep(3)',
      'print("second attempt done")',
    ]);
    const run = await submit(store, replica.scheduler, specOf(nb));
    await waitFor(store, run.id, (r) => r.progress.currentCell === 1 || isTerminal(r), 90_000);
    const first = await podName(run.id);
    cluster.faults.evict(first);
    const done = await waitFor(store, run.id, isTerminal, 120_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const names = replica.updates
      .filter((u) => u.runId === run.id && u.type === 'finished')
      .map((u) => u.status);
    assert.deepEqual(names, ['succeeded'], 'the evicted pod never ended the run');
    const output = outputNotebook(ws, run.id);
    assert.match(JSON.stringify(output.cells.at(-1)?.outputs), /second attempt done/);
  });

  test('image pull error -> failed infra after the pending timeout; the Job is deleted', async () => {
    cluster.faults.failImagePull(/runner:missing$/);
    const nb = notebook(ws, 'pull.ipynb', ['x = 1']);
    const run = await submit(
      store,
      replica.scheduler,
      specOf(nb, { image: 'ghcr.io/nes/runner:missing' }),
    );
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.status, 'failed');
    assert.equal(done.error?.class, 'infra');
    assert.equal(done.error?.ename, 'ImagePullFailed');
    assert.match(
      done.error?.evalue ?? '',
      /ghcr\.io\/nes\/runner:missing.*(ErrImagePull|ImagePullBackOff)/,
    );
    await until('the Job deleted', () => !cluster.get('Job', 'nes-runs', `nes-${run.id}`));
  });

  test('unschedulable -> failed infra with the scheduler message after the pending timeout', async () => {
    cluster.faults.unschedulable(
      (pod) => pod.metadata?.annotations?.['nes.dev/notebook']?.endsWith('stuck.ipynb') === true,
    );
    const nb = notebook(ws, 'stuck.ipynb', ['x = 1']);
    const run = await submit(store, replica.scheduler, specOf(nb));
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.status, 'failed');
    assert.equal(done.error?.class, 'infra');
    assert.equal(done.error?.ename, 'Unschedulable');
    assert.match(done.error?.evalue ?? '', /not scheduled within 3 s: .+/);
  });

  test('the Job of a run NES failed is deleted even when the API server refuses at first: retried with back-off', async () => {
    cluster.faults.unschedulable(
      (pod) => pod.metadata?.annotations?.['nes.dev/notebook']?.endsWith('refused.ipynb') === true,
    );
    const nb = notebook(ws, 'refused.ipynb', ['x = 1']);
    const run = await submit(store, replica.scheduler, specOf(nb));
    const jobPath = `/apis/batch/v1/namespaces/nes-runs/jobs/nes-${run.id}`;
    const requeuesBefore = replica.executor.stats().reconcileRequeues;
    cluster.faults.failRequests({ method: 'DELETE', pathPrefix: jobPath }, 3, 500);
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.error?.ename, 'Unschedulable');
    // Without the retries the Job would stay until the retention time (600 s).
    await until('the Job deleted', () => !cluster.get('Job', 'nes-runs', `nes-${run.id}`), 30_000);
    const deletes = cluster.requests.filter((r) => r.method === 'DELETE' && r.path === jobPath);
    assert.equal(deletes.length, 4, 'three refused, the fourth deleted it');
    assert.ok(replica.executor.stats().reconcileRequeues - requeuesBefore >= 3);
    const times = deletes.map((r) => r.time);
    // The periodic pass (every 200 ms here) does not hurry a retry: 250, 500, 1000 ms at least.
    times.slice(1).forEach((time, i) => {
      const gap = time - (times[i] as number);
      assert.ok(gap >= 250 * 2 ** i - 5, `retry ${i + 1} after ${gap} ms`);
    });
  });

  test('missing Secret -> failed infra naming the Secret', async () => {
    const nb = notebook(ws, 'secret.ipynb', ['x = 1']);
    const run = await submit(
      store,
      replica.scheduler,
      specOf(nb, { resources: { secretEnv: ['warehouse'] } }),
    );
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.status, 'failed');
    assert.equal(done.error?.class, 'infra');
    assert.equal(done.error?.ename, 'CreateContainerConfigError');
    assert.match(done.error?.evalue ?? '', /warehouse/);
  });

  test('the Job deadline -> timed_out', async () => {
    const nb = notebook(ws, 'deadline.ipynb', ['x = 1', 'import time\ntime.sleep(120)']);
    const run = await submit(store, replica.scheduler, specOf(nb, { timeoutSeconds: 2 }));
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.status, 'timed_out', JSON.stringify(done.error));
    assert.equal(done.error?.class, 'timeout');
  });

  test('a Job that vanishes without an end -> failed infra (lost)', async () => {
    const nb = notebook(ws, 'vanish.ipynb', ['x = 1', 'import time\ntime.sleep(120)']);
    const run = await submit(store, replica.scheduler, specOf(nb));
    await waitFor(store, run.id, (r) => r.progress.currentCell === 1 || isTerminal(r), 90_000);
    const pod = await podName(run.id);
    const kc = cluster.kubeConfig();
    await kc.makeApiClient(BatchV1Api).deleteNamespacedJob({
      name: `nes-${run.id}`,
      namespace: 'nes-runs',
      propagationPolicy: 'Orphan',
    });
    // Gone for good, with nothing left to report how it ended: its finalizer removed, then
    // force-deleted (the kubelet never writes its status).
    await kc.makeApiClient(CoreV1Api).patchNamespacedPod(
      {
        name: pod,
        namespace: 'nes-runs',
        body: [{ op: 'remove', path: '/metadata/finalizers' }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespacedPod({ name: pod, namespace: 'nes-runs', gracePeriodSeconds: 0 });
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.status, 'failed', JSON.stringify(done.error));
    assert.equal(done.error?.class, 'infra');
    assert.equal(done.error?.ename, 'RunLost');
  });
});

describe('refusals and Kueue', () => {
  test('a request the settings refuse fails the run at launch, naming the field', async () => {
    const nb = notebook(ws, 'gpu.ipynb', ['x = 1']);
    const run = await submit(store, replica.scheduler, specOf(nb, { resources: { gpu: 1 } }));
    const done = await waitFor(store, run.id, isTerminal, 30_000);
    assert.equal(done.status, 'failed');
    assert.equal(done.error?.class, 'infra');
    assert.match(done.error?.evalue ?? '', /^resources\.gpu: GPUs are not allowed/);
    assert.equal(cluster.get('Job', 'nes-runs', `nes-${run.id}`), undefined, 'no Job created');
  });

  test('with Kueue the Job is created suspended and the run waits as starting until admitted', async () => {
    const queuedStore = await openTestStore(join(ws.root, 'db-queued'));
    const queued = await startReplica(cluster, queuedStore, ws, {
      settings: { namespace: 'nes-queued', kueue: { defaultQueue: 'nes-default' } },
      executor: { pendingTimeoutSeconds: 1 },
      scheduler: { startingTimeoutMs: Number.POSITIVE_INFINITY },
    });
    try {
      const nb = notebook(ws, 'queued.ipynb', ['x = 1', 'print("admitted")']);
      const run = await submit(queuedStore, queued.scheduler, specOf(nb));
      const name = `nes-${run.id}`;
      const job = await until('the suspended Job', () =>
        cluster.get<{ spec: { suspend?: boolean }; metadata: { labels: Record<string, string> } }>(
          'Job',
          'nes-queued',
          name,
        ),
      );
      assert.equal(job.spec.suspend, true);
      assert.equal(job.metadata.labels['kueue.x-k8s.io/queue-name'], 'nes-default');
      // Well past the pending timeout, suspended is still waiting, not failed.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal((await queuedStore.getRun(run.id))?.status, 'starting');
      assert.equal((await queued.executor.observe(run.id)).state, 'pending');
      // Kueue admits the workload: it unsuspends the Job.
      await cluster
        .kubeConfig()
        .makeApiClient(BatchV1Api)
        .patchNamespacedJob(
          { name, namespace: 'nes-queued', body: { spec: { suspend: false } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      const done = await waitFor(queuedStore, run.id, isTerminal, 90_000);
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    } finally {
      await queued.stop();
      await queuedStore.close();
    }
  });
});

describe('faults in the watches and the log stream', () => {
  test('dropped watches and 410 Gone: the informers recover and no update is lost', async () => {
    const before = replica.executor.stats();
    const nb = notebook(ws, 'watch.ipynb', [
      'x = 1',
      'import time\ntime.sleep(1)',
      'time.sleep(1)',
      'print("end")',
    ]);
    const run = await submit(store, replica.scheduler, specOf(nb));
    await waitFor(store, run.id, (r) => r.status === 'starting' || isTerminal(r));
    cluster.faults.dropWatches();
    await waitFor(store, run.id, running, 90_000);
    cluster.faults.expireWatches();
    // Drop again until the informers have come back three times (a drop while one is still
    // re-listing after the 410 finds no watch to drop; on a loaded machine that takes a while).
    const reconnects = () => {
      const now = replica.executor.stats();
      return Math.min(
        now.jobWatchReconnects - before.jobWatchReconnects,
        now.podWatchReconnects - before.podWatchReconnects,
      );
    };
    for (let tries = 0; reconnects() < 3 && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (reconnects() < 3) cluster.faults.dropWatches();
    }
    const done = await waitFor(store, run.id, isTerminal, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.ok(done.startedAt);
    assert.deepEqual([done.progress.cellsDone, done.progress.cellsTotal], [4, 4]);
    const stats = replica.executor.stats();
    assert.ok(stats.jobWatchReconnects - before.jobWatchReconnects >= 3, JSON.stringify(stats));
    assert.ok(stats.podWatchReconnects - before.podWatchReconnects >= 3, JSON.stringify(stats));
    // The 410 made the informers list again from scratch.
    const lists = cluster.requests.filter(
      (r) =>
        r.method === 'GET' &&
        r.path === '/apis/batch/v1/namespaces/nes-runs/jobs' &&
        !r.query?.watch,
    );
    assert.ok(lists.length >= 2);
    for (const list of lists) {
      assert.equal(
        list.query?.labelSelector,
        'app.kubernetes.io/name=nes,app.kubernetes.io/component=run,app.kubernetes.io/managed-by=nes-api',
        'the list is label-filtered too',
      );
    }
  });

  test('dropped log streams: resumed with sinceTime, no line repeated or missing', async () => {
    const cells = [
      'x = 1',
      ...Array.from({ length: 8 }, (_, i) => `import time\ntime.sleep(0.4)\nprint(${i})`),
    ];
    const nb = notebook(ws, 'logs.ipynb', cells);
    const run = await submit(store, replica.scheduler, specOf(nb));
    await waitFor(store, run.id, (r) => r.progress.currentCell !== null || isTerminal(r), 90_000);
    const pod = await podName(run.id);
    for (let i = 0; i < 4; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      cluster.faults.dropLogStreams();
    }
    const done = await waitFor(store, run.id, isTerminal, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const resumed = cluster.requests.filter(
      (r) => r.path.endsWith(`/pods/${pod}/log`) && r.query?.sinceTime,
    );
    assert.ok(resumed.length >= 1, 'resumed with sinceTime');
    // What was followed equals the pod's whole log read at once, line for line.
    const full = await cluster.kubeConfig().makeApiClient(CoreV1Api).readNamespacedPodLog({
      name: pod,
      namespace: 'nes-runs',
      container: 'runner',
      timestamps: true,
    });
    const reader = new RunnerLogReader(run.id);
    const expected = full
      .split('\n')
      .flatMap((raw) => {
        const line = parseLogLine(raw);
        return line ? reader.read(line.time, line.text) : [];
      })
      .filter((u) => u.type === 'log' || u.type === 'progress');
    const followed = replica.updates
      .filter((u) => u.runId === run.id && (u.type === 'log' || u.type === 'progress'))
      .map(({ ...u }) => u);
    assert.deepEqual(followed, expected);
    assert.equal(done.progress.cellsDone, cells.length);
  });
});
