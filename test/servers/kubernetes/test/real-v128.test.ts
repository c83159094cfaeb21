/**
 * Where a real v1.28 cluster with a kubelet was measured to differ from what this stand-in used
 * to do: one test per difference, each asserting the real behaviour.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { JOB_TRACKING_FINALIZER } from '../job-controller.ts';
import {
  conditionsOf,
  harness,
  isFinished,
  NS,
  nodeJob,
  podOf,
  readLog,
  sharedDir,
  statusOf,
  waitFor,
} from './support.ts';

const ignoreDisruptions = {
  podFailurePolicy: {
    rules: [
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      {
        action: 'FailJob',
        onExitCodes: { containerName: 'runner', operator: 'NotIn', values: [0] },
      },
    ],
  },
};
/** Takes SIGTERM slowly (as nes-run does, saving the notebook) before exiting 130. */
const SLOW_TERM =
  "process.on('SIGTERM', () => setTimeout(() => process.exit(130), 1500)); setInterval(() => {}, 1000)";

test('a Job past its deadline: Failed/DeadlineExceeded at once, no FailureTarget, its pod still running', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('late', SLOW_TERM, {}, { activeDeadlineSeconds: 6, ...ignoreDisruptions }),
  });
  await waitFor(
    'the pod to run',
    () => podOf(cluster, 'late'),
    (p) => p.status?.phase === 'Running',
  );
  const job = await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'late'), isFinished);
  assert.deepEqual(conditionsOf(job), ['Failed=True/DeadlineExceeded']);
  // The pod is still stopping (SIGTERM, grace) after the Job's final condition.
  const pod = cluster.list<V1Pod>('Pod', NS)[0];
  assert.ok(pod?.metadata?.deletionTimestamp, 'the pod is being deleted');
  assert.equal(pod?.status?.phase, 'Running');
  assert.equal(job?.status?.terminating, 1);
  await waitFor(
    'the pod to go',
    () => cluster.list('Pod', NS),
    (pods) => pods.length === 0,
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('OOM under a limit kills the biggest process (a child), not the main one: OOMKilled with its own exit code', async (t) => {
  const { cluster, batch } = await harness(t);
  // The main process starts a child that grows past the limit, and exits 6 when it is killed,
  // as nes-run does when its kernel is OOM-killed.
  const script = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ['-e', 'const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 20)'], { stdio: 'ignore' });
    child.on('exit', (code, signal) => process.exit(signal === 'SIGKILL' ? 6 : 1));`;
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('hungry', script, { resources: { limits: { memory: '300Mi' } } }),
  });
  await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'hungry'), isFinished);
  const pod = await podOf(cluster, 'hungry');
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(terminated?.reason, 'OOMKilled');
  assert.equal(terminated?.exitCode, 6, 'the main process outlived its child and chose its exit');
});

test('an evicted pod is replaced only once it is gone (podFailurePolicy)', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('moved', SLOW_TERM, {}, ignoreDisruptions),
  });
  const first = await waitFor(
    'the pod to run',
    () => cluster.list<V1Pod>('Pod', NS),
    (pods) => pods[0]?.status?.phase === 'Running',
  );
  const name = first[0]?.metadata?.name ?? '';
  cluster.faults.evict(name);
  // While it stops (1.5 s), no second pod.
  const seen = new Set<string>();
  const start = Date.now();
  while (cluster.list<V1Pod>('Pod', NS).some((p) => p.metadata?.name === name)) {
    for (const pod of cluster.list<V1Pod>('Pod', NS)) seen.add(pod.metadata?.name ?? '');
    assert.ok(Date.now() - start < 30_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual([...seen], [name], 'no replacement while the evicted pod exists');
  const next = await waitFor(
    'a replacement',
    () => cluster.list<V1Pod>('Pod', NS),
    (pods) => pods.length === 1 && pods[0]?.metadata?.name !== name,
  );
  assert.ok(next[0]);
  await batch.deleteNamespacedJob({
    name: 'moved',
    namespace: NS,
    propagationPolicy: 'Background',
  });
});

test('pods carry the job-tracking finalizer until the Job controller has counted them', async (t) => {
  const { cluster, batch } = await harness(t);
  const dir = await sharedDir(t);
  const gate = `${dir}/go`;
  const script = `const fs = require('node:fs'); setInterval(() => { if (fs.existsSync(${JSON.stringify(gate)})) process.exit(0); }, 20);`;
  await batch.createNamespacedJob({ namespace: NS, body: nodeJob('counted', script) });
  const pod = await podOf(cluster, 'counted');
  assert.deepEqual(pod.metadata?.finalizers, [JOB_TRACKING_FINALIZER]);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(gate, '');
  await waitFor('Complete', () => cluster.get<V1Job>('Job', NS, 'counted'), isFinished);
  const done = await waitFor(
    'the finalizer to go',
    () => cluster.get<V1Pod>('Pod', NS, pod.metadata?.name ?? ''),
    (p) => p !== undefined && p.metadata?.finalizers === undefined,
  );
  assert.equal(done?.status?.phase, 'Succeeded');
  // Deleting the Job (Background) takes the pod too: nothing holds it any more.
  await batch.deleteNamespacedJob({
    name: 'counted',
    namespace: NS,
    propagationPolicy: 'Background',
  });
  await waitFor(
    'the pod to go',
    () => cluster.list('Pod', NS),
    (pods) => pods.length === 0,
  );
});

test('the server fills a PodTemplate with the pod defaults, on create and on update', async (t) => {
  const { core } = await harness(t);
  const created = await core.createNamespacedPodTemplate({
    namespace: NS,
    body: {
      metadata: { name: 'nes-runner' },
      template: { spec: { containers: [{ name: 'runner', image: 'ghcr.io/nes/runner:latest' }] } },
    },
  });
  const spec = created.template?.spec;
  assert.equal(spec?.restartPolicy, 'Always');
  assert.equal(spec?.terminationGracePeriodSeconds, 30);
  assert.equal(spec?.dnsPolicy, 'ClusterFirst');
  assert.equal(spec?.containers[0]?.imagePullPolicy, 'Always', ':latest pulls always');
  assert.equal(spec?.containers[0]?.terminationMessagePolicy, 'File');
  const body = structuredClone(created);
  body.template = { spec: { containers: [{ name: 'runner', image: 'nes-runner:dev' }] } };
  const updated = await core.replaceNamespacedPodTemplate({
    name: 'nes-runner',
    namespace: NS,
    body,
  });
  assert.equal(updated.template?.spec?.containers[0]?.imagePullPolicy, 'IfNotPresent');
  assert.equal(updated.template?.spec?.terminationGracePeriodSeconds, 30);
});

test('CPU requests are enforced at scheduling: Insufficient cpu, then scheduled when room is made', async (t) => {
  const { cluster, batch } = await harness(t, { kubelet: { allocatableCpu: '1' } });
  const dir = await sharedDir(t);
  const gate = `${dir}/go`;
  const script = `const fs = require('node:fs'); setInterval(() => { if (fs.existsSync(${JSON.stringify(gate)})) process.exit(0); }, 20);`;
  const requests = { resources: { requests: { cpu: '600m' } } };
  await batch.createNamespacedJob({ namespace: NS, body: nodeJob('first', script, requests) });
  await waitFor(
    'the first to run',
    () => podOf(cluster, 'first'),
    (p) => p.status?.phase === 'Running',
  );
  await batch.createNamespacedJob({ namespace: NS, body: nodeJob('second', script, requests) });
  const waiting = await waitFor(
    'the second to be unschedulable',
    () => podOf(cluster, 'second'),
    (p) =>
      p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False') === true,
  );
  const scheduled = waiting.status?.conditions?.find((c) => c.type === 'PodScheduled');
  assert.equal(scheduled?.reason, 'Unschedulable');
  assert.match(scheduled?.message ?? '', /Insufficient cpu/);
  assert.equal(waiting.status?.phase, 'Pending');
  const events = cluster.list<{ reason?: string; message?: string }>('Event', NS);
  assert.ok(
    events.some((e) => e.reason === 'FailedScheduling' && /Insufficient cpu/.test(e.message ?? '')),
  );
  const { writeFileSync } = await import('node:fs');
  writeFileSync(gate, '');
  await waitFor(
    'both to complete',
    () => cluster.get<V1Job>('Job', NS, 'second'),
    isFinished,
    120_000,
  );
});

test('Pod Security admission: restricted enforced on pods (403), warned on Jobs and PodTemplates', async (t) => {
  const { cluster, batch, core } = await harness(t);
  await core.patchNamespace(
    {
      name: NS,
      body: {
        metadata: {
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      },
    },
    (await import('@kubernetes/client-node')).setHeaderOptions(
      'Content-Type',
      (await import('@kubernetes/client-node')).PatchStrategy.MergePatch,
    ),
  );
  const reply = await statusOf(
    core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: 'loose' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
    }),
  );
  assert.equal(reply.code, 403);
  assert.equal(reply.reason, 'Forbidden');
  assert.match(
    reply.message,
    /^pods "loose" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
  );
  assert.match(reply.message, /unrestricted capabilities .*runAsNonRoot != true .*seccompProfile/);
  // A Job is admitted, with the warning kubectl prints.
  const response = await fetch(`${cluster.url}/apis/batch/v1/namespaces/${NS}/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(nodeJob('warned', 'process.exit(0)')),
  });
  assert.equal(response.status, 201);
  assert.match(
    response.headers.get('warning') ?? '',
    /^299 - "would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation/,
  );
  // Its pod is then refused: the Job controller records FailedCreate, no pod exists.
  await waitFor(
    'FailedCreate',
    () => cluster.list<{ reason?: string; message?: string }>('Event', NS),
    (events) =>
      events.some(
        (e) => e.reason === 'FailedCreate' && /violates PodSecurity/.test(e.message ?? ''),
      ),
  );
  assert.equal(cluster.list('Pod', NS).length, 0);
  await batch.deleteNamespacedJob({
    name: 'warned',
    namespace: NS,
    propagationPolicy: 'Background',
  });
});

test('v1.28: no podReplacementPolicy default, and Complete without SuccessCriteriaMet', async (t) => {
  const { cluster, batch } = await harness(t);
  const created = await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('plain', 'process.exit(0)', {}, ignoreDisruptions),
  });
  assert.equal(created.spec?.podReplacementPolicy, undefined);
  const job = await waitFor('Complete', () => cluster.get<V1Job>('Job', NS, 'plain'), isFinished);
  assert.deepEqual(conditionsOf(job), ['Complete=True/CompletionsReached']);
});

test('log timestamps keep nine fractional digits; the log endpoint answers 404 once the pod is gone', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('talk', "for (let i = 0; i < 20; i++) console.log('line ' + i)"),
  });
  await waitFor('Complete', () => cluster.get<V1Job>('Job', NS, 'talk'), isFinished);
  const pod = await podOf(cluster, 'talk');
  const log = await readLog(cluster, pod.metadata?.name ?? '', 'timestamps=true');
  assert.equal(log.status, 200);
  const lines = log.text.trim().split('\n');
  assert.equal(lines.length, 20);
  for (const line of lines) {
    assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line \d+$/, line);
  }
  await batch.deleteNamespacedJob({ name: 'talk', namespace: NS, propagationPolicy: 'Background' });
  await waitFor(
    'the pod to go',
    () => cluster.list('Pod', NS),
    (pods) => pods.length === 0,
  );
  const gone = await readLog(cluster, pod.metadata?.name ?? '');
  assert.equal(gone.status, 404);
  assert.match(gone.text, /pods \\"talk-[a-z0-9]+\\" not found/);
});
