/**
 * The whole service with NES_EXECUTOR=kubernetes, end to end over real HTTP: submit through the
 * API -> a Job in the fake cluster (base pod from a PodTemplate) -> the real nes-run in the
 * kubelet -> the output store -> succeeded, with the same assertions as the local executor's
 * service suite (events, progress, the notebook with its parameters); cancel over HTTP.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type FakeCluster,
  fakeClusterKubeconfigFile,
  startFakeCluster,
} from '../../../test/servers/kubernetes/index.ts';
import { type StartedService, startService } from '../src/service.ts';
import { k8sWorkspace, podsOf, type Workspace } from './k8s-executor-support.ts';
import { writeNotebook } from './scheduler-support.ts';
import { Api, printed, runEvents } from './service-support.ts';

let cluster: FakeCluster;
let ws: Workspace;
let service: StartedService;
let api: Api;

before(async () => {
  cluster = await startFakeCluster();
  ws = k8sWorkspace();
  cluster.createPodTemplate('nes-runs', {
    apiVersion: 'v1',
    kind: 'PodTemplate',
    metadata: { name: 'nes-runner', namespace: 'nes-runs' },
    template: {
      metadata: { labels: { 'team.example.com/cost-center': 'notebooks' } },
      spec: {
        containers: [
          {
            name: 'runner',
            image: 'ignored',
            env: [{ name: 'NES_FROM_TEMPLATE', value: 'yes' }],
          },
        ],
      },
    },
  });
  const settingsFile = join(ws.root, 'k8s-settings.yaml');
  writeFileSync(
    settingsFile,
    'secretEnv: {keys: []}\ntimeouts: {defaultSeconds: 300, maxSeconds: 3600, startupSeconds: 60}\nterminationGracePeriodSeconds: 10\n',
  );
  service = await startService({
    env: {
      NES_DATA_DIR: join(ws.root, 'data'),
      NES_PORT: '0',
      NES_NOTEBOOK_ROOTS: ws.notebooks,
      NES_STORE: ws.store,
      NES_EXECUTOR: 'kubernetes',
      NES_K8S_KUBECONFIG: fakeClusterKubeconfigFile(cluster, join(ws.root, 'kube')),
      NES_K8S_NAMESPACE: 'nes-runs',
      NES_K8S_IMAGE: 'ghcr.io/nes/runner:1.0.0',
      NES_K8S_POD_TEMPLATE: 'nes-runner',
      NES_K8S_PENDING_TIMEOUT_SECONDS: '30',
      NES_K8S_LEASE_NAME: 'nes-executor',
      NES_K8S_SETTINGS_FILE: settingsFile,
    },
    kubernetes: { tickIntervalMs: 200 },
    scheduler: { pollIntervalMs: 100 },
    log: () => undefined,
  });
  api = new Api(service.url, service.adminToken);
});

after(async () => {
  await service?.close(0);
  await cluster?.close();
});

describe('the service with the Kubernetes executor', () => {
  test('submit -> Job -> runner -> store -> succeeded, over HTTP', async () => {
    assert.equal(service.executor.name, 'kubernetes');
    const greet = writeNotebook(ws.notebooks, 'greet.ipynb', [
      'name = "world"\ncount = 1',
      'import os\nprint(("hello " + name + "\\n") * count, end="")\nprint(os.environ["NES_FROM_TEMPLATE"])',
    ]);
    const submitted = await api.submit({
      notebook: greet,
      parameters: { name: 'NES', count: 2 },
      labels: { suite: 'k8s-e2e' },
    });
    assert.equal(submitted.status, 'queued');

    const stream = await runEvents(api, submitted.id);
    const statuses = stream
      .filter((e) => e.event === 'status')
      .map((e) => (e.data as { status: string }).status);
    assert.ok(statuses.includes('running'), JSON.stringify(statuses));
    assert.equal(statuses.at(-1), 'succeeded');
    assert.ok(stream.some((e) => e.event === 'progress'));
    assert.ok(
      stream.some((e) => e.event === 'log'),
      'the pod log reached the event stream',
    );

    const run = await api.waitTerminal(submitted.id);
    assert.equal(run.status, 'succeeded', JSON.stringify(run.error));
    assert.deepEqual(run.progress, {
      cellsDone: 3,
      cellsTotal: 3,
      currentCell: run.progress.currentCell,
    });
    assert.ok(run.outputUri);

    const nb = await api.notebook(run.id);
    assert.deepEqual(nb.metadata.papermill.parameters, { name: 'NES', count: 2 });
    assert.equal(nb.metadata.papermill.exception ?? null, null);
    assert.equal(printed(nb), 'hello NES\nhello NES\nyes\n');
    for (const cell of nb.cells) assert.equal(cell.metadata.papermill.status, 'completed');

    // The pod was built on the PodTemplate and labelled for NES's informers.
    const [pod] = podsOf(cluster, run.id) as Array<{
      metadata: { labels?: Record<string, string> };
    }>;
    assert.equal(pod?.metadata.labels?.['team.example.com/cost-center'], 'notebooks');
    assert.equal(pod?.metadata.labels?.['app.kubernetes.io/managed-by'], 'nes-api');
    assert.deepEqual(cluster.specViolations, []);
  });

  test('cancel over HTTP: the run ends cancelled with its notebook saved', async () => {
    const sleepy = writeNotebook(ws.notebooks, 'sleepy.ipynb', [
      'seconds = 60',
      'import time; print("before", flush=True)',
      'time.sleep(seconds)',
      'print("after")',
    ]);
    const submitted = await api.submit({ notebook: sleepy });
    await api.waitFor(
      submitted.id,
      (run) => run.status === 'running' && run.progress.cellsDone >= 2,
      90_000,
    );
    const cancel = await api.request('POST', `/v1/runs/${submitted.id}/cancel`);
    assert.ok(cancel.status === 200 || cancel.status === 202, cancel.text);
    const run = await api.waitTerminal(submitted.id, 60_000);
    assert.equal(run.status, 'cancelled');
    assert.equal(run.error?.class, 'cancelled');
    const nb = await api.notebook(run.id);
    assert.equal(nb.metadata.papermill.exception, true);
    assert.match(printed(nb), /before/);
    assert.doesNotMatch(printed(nb), /after/);
    assert.deepEqual(cluster.specViolations, []);
  });
});
