/**
 * The cases a real v1.28 cluster exposed, end to end: the executor, the scheduler and a real run
 * store against the stand-in cluster (test/servers/kubernetes, behaving as the real one was
 * measured to), the Jobs running the real nes-run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Job } from '@kubernetes/client-node';
import { INSTALLATION_LABEL } from '../src/executors/kubernetes/job-builder.ts';
import { podLogKey } from '../src/executors/kubernetes/pod-log-archive.ts';
import type { Run } from '../src/runs/run-model.ts';
import type { RunStore } from '../src/runs/run-store.ts';
import {
  type FakeCluster,
  k8sWorkspace,
  notebook,
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

const started = (run: Run) => run.progress.currentCell === 1 || isTerminal(run);
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

async function setUp(options: Parameters<typeof startFakeCluster>[0] = {}) {
  const cluster = await startFakeCluster({ namespaces: ['nes-runs'], ...options });
  closers.push(() => cluster.close());
  return cluster;
}

async function replicaOn(
  cluster: FakeCluster,
  options: Parameters<typeof startReplica>[3] = {},
): Promise<{ ws: Workspace; store: RunStore; replica: Replica }> {
  const ws = k8sWorkspace();
  const store = await openTestStore(join(ws.root, 'db'));
  const replica = await startReplica(cluster, store, ws, options);
  closers.push(async () => {
    await replica.stop();
    await store.close();
  });
  return { ws, store, replica };
}

describe('what a real cluster does to runs', { concurrency: 2 }, () => {
  let cluster: FakeCluster;
  let ws: Workspace;
  let store: RunStore;
  let replica: Replica;
  before(async () => {
    cluster = await setUp();
    // A loaded machine can take seconds to start a container: 10 s before a pending run fails.
    ({ ws, store, replica } = await replicaOn(cluster, {
      executor: { pendingTimeoutSeconds: 10 },
    }));
  });
  afterEach(() => assert.deepEqual(cluster.specViolations, []));

  test('the pod deleted mid-run (no cancel asked) -> failed infra RunnerTerminated, not cancelled', async () => {
    const nb = notebook(ws, 'deleted.ipynb', ['x = 1', 'import time\ntime.sleep(120)']);
    const run = await submit(store, replica.scheduler, specOf(nb));
    const first = await waitFor(store, run.id, started, 90_000);
    assert.equal(first.status, 'running', JSON.stringify(first.error));
    const pod = await until('its pod', () => podsOf(cluster, run.id)[0]?.metadata.name);
    // kubectl delete pod: the default grace period, SIGTERM, no DisruptionTarget.
    await cluster
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespacedPod({ name: pod, namespace: 'nes-runs' });
    const done = await waitFor(store, run.id, isTerminal, 90_000);
    assert.equal(done.status, 'failed', JSON.stringify(done.error));
    assert.equal(done.cancelRequested, false);
    assert.equal(done.error?.class, 'infra');
    assert.equal(done.error?.ename, 'RunnerTerminated');
    assert.match(done.error?.evalue ?? '', /without a cancel/);
  });

  test('an image that cannot be pulled -> the root cause from the events, no output notebook', async () => {
    cluster.faults.failImagePull(/runner:gone$/);
    const nb = notebook(ws, 'nopull.ipynb', ['x = 1']);
    const run = await submit(
      store,
      replica.scheduler,
      specOf(nb, { image: 'ghcr.io/nes/runner:gone' }),
    );
    const done = await waitFor(store, run.id, isTerminal, 60_000);
    assert.equal(done.error?.ename, 'ImagePullFailed');
    assert.match(done.error?.evalue ?? '', /failed to resolve reference .*: not found/);
    assert.equal(done.outputUri, null, 'no runner ran, so no output notebook exists');
    assert.equal(existsSync(join(ws.store, 'runs', run.id, 'output.ipynb')), false);
  });

  test("the image pull policy follows each run's image, not the PodTemplate's", async () => {
    const nb = notebook(ws, 'policy.ipynb', ['x = 1']);
    const run = await submit(
      store,
      replica.scheduler,
      specOf(nb, { image: 'ghcr.io/nes/runner:latest' }),
    );
    await waitFor(store, run.id, isTerminal, 90_000);
    const job = cluster.get<V1Job>('Job', 'nes-runs', `nes-${run.id}`);
    assert.equal(job?.spec?.template.spec?.containers[0]?.imagePullPolicy, 'Always');
  });
});

describe('a Job deadline reached before the run timeout (a long wait for the image)', () => {
  test('timed_out in the API, the manifest and the notebook', async () => {
    // Pulls take 4 s; the Job's deadline is the run's 12 s plus 1 s of startup allowance, so it
    // falls before the runner's own timeout would.
    const cluster = await setUp({ kubelet: { pullDelayMs: 4000 } });
    const { ws, store, replica } = await replicaOn(cluster, {
      executor: { pendingTimeoutSeconds: 60 },
      settings: { timeouts: { defaultSeconds: 300, maxSeconds: 3600, startupSeconds: 1 } },
    });
    const nb = notebook(ws, 'late.ipynb', ['x = 1', 'import time\ntime.sleep(120)']);
    const run = await submit(store, replica.scheduler, specOf(nb, { timeoutSeconds: 12 }));
    const done = await waitFor(store, run.id, isTerminal, 120_000);
    assert.equal(done.status, 'timed_out', JSON.stringify(done.error));
    assert.equal(done.error?.class, 'timeout');
    const manifest = JSON.parse(
      readFileSync(join(ws.store, 'runs', run.id, 'manifest.json'), 'utf8'),
    );
    assert.equal(manifest.status, 'timed_out');
    assert.equal(manifest.error?.class, 'timeout');
    const output = JSON.parse(readFileSync(join(ws.store, 'runs', run.id, 'output.ipynb'), 'utf8'));
    // Saved by the runner's own stop, as for its timeout: nothing in it says cancelled.
    assert.doesNotMatch(JSON.stringify(output), /cancel/i);
    // The Job carried its deadline for the runner.
    const job = cluster.requests.find((r) => r.method === 'POST' && r.path.endsWith('/jobs'))
      ?.body as V1Job;
    const env = job.spec?.template.spec?.containers[0]?.env ?? [];
    assert.ok(
      env.some((e) => e.name === 'NES_DEADLINE_AT' && !Number.isNaN(Date.parse(e.value ?? ''))),
    );
    assert.deepEqual(cluster.specViolations, []);
  });
});

describe('ten runs on a node with room for two', () => {
  test('the others wait as starting (Insufficient cpu) and all succeed', async () => {
    const cluster = await setUp({ kubelet: { allocatableCpu: '2' } });
    const { ws, store, replica } = await replicaOn(cluster, {
      executor: { pendingTimeoutSeconds: 600 },
      settings: {
        resources: {
          defaults: { cpu: '1', memory: '1Gi' },
          max: { cpu: '2', memory: '4Gi', gpu: 0 },
        },
      },
    });
    const nb = notebook(ws, 'small.ipynb', ['x = 1']);
    const runs = [];
    for (let i = 0; i < 10; i += 1) runs.push(await submit(store, replica.scheduler, specOf(nb)));
    let maxRunning = 0;
    let sawStarting = false;
    const giveUp = Date.now() + 600_000;
    for (;;) {
      const states = await Promise.all(runs.map((r) => store.getRun(r.id)));
      const pods = cluster.list<{ status?: { phase?: string } }>('Pod', 'nes-runs');
      maxRunning = Math.max(maxRunning, pods.filter((p) => p.status?.phase === 'Running').length);
      if (
        states.some((s) => s?.status === 'starting') &&
        states.some((s) => s?.status === 'running')
      ) {
        sawStarting = true;
      }
      if (states.every((s) => s && isTerminal(s))) {
        assert.deepEqual(
          states.map((s) => s?.status),
          Array(10).fill('succeeded'),
        );
        break;
      }
      assert.ok(Date.now() < giveUp, 'all ten finish');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(maxRunning <= 2, `${maxRunning} pods ran at once on a node with 2 CPUs`);
    assert.ok(sawStarting, 'some runs waited as starting while others ran');
    const events = cluster.list<{ reason?: string; message?: string }>('Event', 'nes-runs');
    assert.ok(
      events.some(
        (e) => e.reason === 'FailedScheduling' && /Insufficient cpu/.test(e.message ?? ''),
      ),
    );
    assert.deepEqual(cluster.specViolations, []);
  });
});

describe('two installations sharing one runs namespace', () => {
  test('each tracks, archives and deletes only its own Jobs and pods', async () => {
    const cluster = await setUp();
    const fast = { finishedJobRetentionSeconds: 1 };
    const a = await replicaOn(cluster, { settings: { installation: 'team-a' }, executor: fast });
    const b = await replicaOn(cluster, { settings: { installation: 'team-b' }, executor: fast });
    const runA = await submit(
      a.store,
      a.replica.scheduler,
      specOf(notebook(a.ws, 'a.ipynb', ['print("A")'])),
    );
    const nbB = notebook(b.ws, 'b.ipynb', ['x = 1', 'import time\ntime.sleep(120)']);
    const runB = await submit(b.store, b.replica.scheduler, specOf(nbB));
    const doneA = await waitFor(a.store, runA.id, isTerminal, 90_000);
    assert.equal(doneA.status, 'succeeded', JSON.stringify(doneA.error));
    await waitFor(b.store, runB.id, started, 90_000);
    // A archived and deleted its own finished Job; B's runs on, untouched.
    await until(
      'A to delete its finished Job',
      () => !cluster.get('Job', 'nes-runs', `nes-${runA.id}`),
    );
    assert.ok(existsSync(join(a.ws.store, podLogKey(runA.id))));
    const jobB = cluster.get<V1Job>('Job', 'nes-runs', `nes-${runB.id}`);
    assert.equal(jobB?.metadata?.labels?.[INSTALLATION_LABEL], 'team-b');
    assert.equal((await b.store.getRun(runB.id))?.status, 'running');
    // Neither heard of the other's run.
    assert.ok(!a.replica.updates.some((u) => u.runId === runB.id));
    assert.ok(!b.replica.updates.some((u) => u.runId === runA.id));
    assert.equal(existsSync(join(a.ws.store, 'runs', runB.id)), false);
    await b.replica.scheduler.cancel(runB.id);
    const doneB = await waitFor(b.store, runB.id, isTerminal, 60_000);
    assert.equal(doneB.status, 'cancelled');
    assert.equal((await a.store.getRun(runB.id)) ?? null, null);
    assert.deepEqual(cluster.specViolations, []);
  });
});

describe('the PodTemplate changed while the API runs', () => {
  test('the next run is built from the new template, without a restart', async () => {
    const cluster = await setUp();
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const template = (value: string) => ({
      metadata: { name: 'nes-runner' },
      template: {
        spec: {
          containers: [
            {
              name: 'runner',
              image: 'ghcr.io/nes/runner:1.0.0',
              env: [{ name: 'TEAM_SETTING', value: value }],
            },
          ],
        },
      },
    });
    await core.createNamespacedPodTemplate({ namespace: 'nes-runs', body: template('one') });
    const { ws, store, replica } = await replicaOn(cluster, {
      executor: { podTemplateName: 'nes-runner' },
    });
    mkdirSync(ws.notebooks, { recursive: true });
    const nb = notebook(ws, 'env.ipynb', ['import os\nprint(os.environ["TEAM_SETTING"])']);
    const first = await submit(store, replica.scheduler, specOf(nb));
    assert.equal((await waitFor(store, first.id, isTerminal, 90_000)).status, 'succeeded');
    await core.patchNamespacedPodTemplate(
      {
        name: 'nes-runner',
        namespace: 'nes-runs',
        body: {
          template: {
            spec: {
              containers: [{ name: 'runner', env: [{ name: 'TEAM_SETTING', value: 'two' }] }],
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const second = await submit(store, replica.scheduler, specOf(nb));
    assert.equal((await waitFor(store, second.id, isTerminal, 90_000)).status, 'succeeded');
    const printed = (run: Run) =>
      JSON.stringify(
        JSON.parse(readFileSync(join(ws.store, 'runs', run.id, 'output.ipynb'), 'utf8')).cells[0]
          .outputs,
      );
    assert.match(printed(first), /one/);
    assert.match(printed(second), /two/);
    assert.deepEqual(cluster.specViolations, []);
  });
});
