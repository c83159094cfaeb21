/**
 * The real NES runner through the fake cluster: the Job `buildRunJob` makes for a run is
 * accepted by the strict spec check, its pod runs `nes-run` for real (a Jupyter kernel from
 * .tools/py) with the Job's environment, Secret references and emptyDir mounts, and the Job
 * completes with the executed notebook in a local directory store and the runner's JSON result
 * as the container's termination message.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { buildRunJob } from '../../../../services/nes-api/src/executors/kubernetes/job-builder.ts';
import { REPO_ROOT, run, settings } from '../../../../services/nes-api/test/k8s-support.ts';
import {
  conditionsOf,
  harness,
  isFinished,
  NS,
  podOf,
  readLog,
  schemaIssues,
  sharedDir,
  waitFor,
} from './support.ts';

test('a run Job from buildRunJob runs nes-run on a real kernel to Complete, the notebook in the store', async (t) => {
  const { cluster, batch } = await harness(t);
  // Outside /tmp and /home/nes: inside the pod those are the Job's private emptyDirs.
  const store = await sharedDir(t);
  // The notebook too: a checkout under /tmp would be hidden by the pod's /tmp emptyDir.
  const notebooks = await sharedDir(t);
  copyFileSync(join(REPO_ROOT, 'examples/hello.ipynb'), join(notebooks, 'hello.ipynb'));
  cluster.createSecret(NS, 'nes-github', { token: 'ghp_not_used_by_a_local_notebook' });
  const runId = '01jd0000000000000000000042';
  const job = buildRunJob(
    run({
      id: runId,
      notebook: join(notebooks, 'hello.ipynb'),
      ref: null,
      commitSha: null,
      parameters: { name: 'Kubernetes', count: 2 },
      timeoutSeconds: 600,
    }),
    settings({
      store,
      resources: {
        defaults: { cpu: '500m', memory: '2Gi' },
        max: { cpu: '8', memory: '32Gi', gpu: 2 },
      },
    }),
  );
  await batch.createNamespacedJob({ namespace: NS, body: job });
  assert.deepEqual(cluster.specViolations, [], 'the Job NES builds passes the strict spec check');

  const done = await waitFor(
    'the run Job to finish',
    () => cluster.get<V1Job>('Job', NS, job.metadata?.name ?? ''),
    isFinished,
    240_000,
  );
  const pod = await podOf(cluster, job.metadata?.name ?? '');
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  const log = await readLog(cluster, pod.metadata?.name ?? '', 'container=runner');
  assert.deepEqual(
    conditionsOf(done),
    ['Complete=True/CompletionsReached'],
    `${terminated?.message}\n${log.text}`,
  );
  assert.equal(terminated?.exitCode, 0);
  assert.equal(terminated?.reason, 'Completed');

  // The runner's result, through the termination message.
  const result = JSON.parse(terminated?.message ?? '{}');
  assert.equal(result.v, 1);
  assert.equal(result.status, 'succeeded');
  assert.equal(result.exitCode, 0);
  assert.equal(result.class, null);

  // The executed notebook, in the store.
  const output = join(store, 'runs', runId, 'output.ipynb');
  assert.ok(existsSync(output), `no ${output}`);
  const notebook = JSON.parse(readFileSync(output, 'utf8'));
  const text = JSON.stringify(
    notebook.cells.map((cell: { outputs?: unknown }) => cell.outputs ?? []),
  );
  assert.match(text, /Hello, Kubernetes!/);
  assert.match(text, /2\. Hello, Kubernetes!/);

  // stdout carries the runner's JSON events; no Secret value reaches the log.
  assert.ok(
    log.text.split('\n').some((line) => line.startsWith('{')),
    log.text.slice(0, 2000),
  );
  assert.ok(!log.text.includes('ghp_not_used_by_a_local_notebook'));
  assert.deepEqual(cluster.specViolations, []);
  assert.deepEqual(schemaIssues(cluster), []);
});
