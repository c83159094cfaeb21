/**
 * What goes wrong on a real cluster, simulated: OOM kills (by a memory limit and on demand),
 * eviction (the Job replaces the pod, ignoring the disruption), image pull errors,
 * unschedulable pods and missing Secrets (CreateContainerConfigError until the Secret exists).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type V1Job, type V1Pod, Watch } from '@kubernetes/client-node';
import {
  conditionsOf,
  harness,
  isFinished,
  NS,
  nodeJob,
  podOf,
  readLog,
  schemaIssues,
  sharedDir,
  waitFor,
} from './support.ts';

const FAIL_ON_NON_ZERO = {
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

const waitingReason = (pod: V1Pod | undefined) =>
  pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason;

test('a process over its memory limit is OOMKilled (exit 137) and the Job fails', async (t) => {
  const { cluster, batch } = await harness(t);
  const script = 'const keep = []; setInterval(() => keep.push(Buffer.alloc(16 << 20, 1)), 20);';
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob(
      'hungry',
      script,
      { resources: { limits: { memory: '160Mi' } } },
      FAIL_ON_NON_ZERO,
    ),
  });
  const job = await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'hungry'), isFinished);
  const pod = await podOf(cluster, 'hungry');
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(terminated?.reason, 'OOMKilled');
  assert.equal(terminated?.exitCode, 137);
  assert.equal(pod.status?.qosClass, 'Burstable');
  assert.deepEqual(conditionsOf(job), [
    'FailureTarget=True/PodFailurePolicy',
    'Failed=True/PodFailurePolicy',
  ]);
  assert.match(
    job?.status?.conditions?.[1]?.message ?? '',
    /failed with exit code 137 matching FailJob rule at index 1$/,
  );
  assert.deepEqual(cluster.runningProcesses(), []);
  assert.deepEqual(cluster.specViolations, []);
});

test('faults.oomKill kills a running container as the kernel would', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('victim', "console.log('up'); setInterval(() => {}, 1000)", {}, FAIL_ON_NON_ZERO),
  });
  const pod = await podOf(cluster, 'victim');
  const name = pod.metadata?.name ?? '';
  await waitFor(
    'the process',
    async () => (await readLog(cluster, name)).text,
    (text) => text === 'up\n',
  );
  cluster.faults.oomKill(name);
  const killed = await waitFor(
    'the pod to fail',
    () => cluster.get<V1Pod>('Pod', NS, name),
    (p) => p?.status?.phase === 'Failed',
  );
  assert.equal(killed?.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'OOMKilled');
  assert.equal(killed?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 137);
  await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'victim'), isFinished);
  assert.throws(() => cluster.faults.oomKill(name), /no running container/);
});

test('eviction: DisruptionTarget, the pod terminates, the Job ignores it and starts a replacement', async (t) => {
  const { cluster, batch } = await harness(t);
  const shared = await sharedDir(t);
  const marker = join(shared, 'first-run');
  // The first pod waits to be evicted; its replacement finds the marker and succeeds.
  const script = `const fs = require('fs'); if (fs.existsSync(${JSON.stringify(marker)})) process.exit(0); fs.writeFileSync(${JSON.stringify(marker)}, ''); setInterval(() => {}, 1000);`;
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('evicted', script, {}, FAIL_ON_NON_ZERO),
  });
  const first = await podOf(cluster, 'evicted');
  const firstName = first.metadata?.name ?? '';
  await waitFor('the first run', () => existsSync(marker), Boolean);

  const seen: V1Pod[] = [];
  const controller = await new Watch(cluster.kubeConfig()).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { fieldSelector: `metadata.name=${firstName}` },
    (_type, pod: V1Pod) => seen.push(pod),
    () => {},
  );
  t.after(() => controller.abort());
  cluster.faults.evict(firstName);

  const job = await waitFor('Complete', () => cluster.get<V1Job>('Job', NS, 'evicted'), isFinished);
  assert.deepEqual(conditionsOf(job), ['Complete=True/CompletionsReached']);
  assert.equal(job?.status?.failed, 0, 'an ignored disruption does not count');
  assert.equal(job?.status?.succeeded, 1);
  const pods = cluster.list<V1Pod>('Pod', NS);
  assert.ok(
    pods.every((p) => p.metadata?.name !== firstName),
    'the evicted pod is gone',
  );
  assert.equal(pods.length, 1);
  await waitFor(
    'the evicted pod history',
    () => seen,
    (list) => list.some((p) => p.status?.phase === 'Failed'),
  );
  const disrupted = seen.find((p) =>
    p.status?.conditions?.some((c) => c.type === 'DisruptionTarget'),
  );
  const condition = disrupted?.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
  assert.equal(condition?.reason, 'EvictionByEvictionAPI');
  assert.equal(condition?.status, 'True');
  assert.ok(seen.some((p) => p.metadata?.deletionTimestamp));
  assert.deepEqual(cluster.specViolations, []);
});

test('an image that cannot be pulled: ErrImagePull then ImagePullBackOff; logs answer 400', async (t) => {
  const { cluster, batch } = await harness(t);
  cluster.faults.failImagePull(/does-not-exist/);
  const states: string[] = [];
  const pullErrors: string[] = [];
  const controller = await new Watch(cluster.kubeConfig()).watch(
    `/api/v1/namespaces/${NS}/pods`,
    {},
    (_type, pod: V1Pod) => {
      const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
      if (waiting && states.at(-1) !== waiting.reason) states.push(waiting.reason ?? '');
      if (waiting?.reason === 'ErrImagePull') pullErrors.push(waiting.message ?? '');
    },
    () => {},
  );
  t.after(() => controller.abort());
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('badimage', 'process.exit(0)', { image: 'ghcr.io/nes/does-not-exist:1' }),
  });
  const pod = await podOf(cluster, 'badimage');
  const name = pod.metadata?.name ?? '';
  await waitFor(
    'ErrImagePull, then ImagePullBackOff',
    () => states,
    (list) => list.includes('ImagePullBackOff'),
  );
  assert.deepEqual(states.slice(0, 3), ['ContainerCreating', 'ErrImagePull', 'ImagePullBackOff']);
  assert.match(
    pullErrors[0] ?? '',
    /failed to pull and unpack image "ghcr.io\/nes\/does-not-exist:1"/,
  );
  assert.equal(cluster.get<V1Pod>('Pod', NS, name)?.status?.phase, 'Pending');
  const log = await readLog(cluster, name);
  assert.equal(log.status, 400);
  assert.equal(
    JSON.parse(log.text).message,
    `container "runner" in pod "${name}" is waiting to start: trying and failing to pull image`,
  );
  const reasons = cluster
    .list<{ reason: string; type: string }>('Event', NS)
    .map((e) => `${e.type}:${e.reason}`);
  assert.ok(reasons.includes('Warning:Failed'));
  assert.ok(reasons.includes('Normal:BackOff'));
  assert.equal(cluster.get<V1Job>('Job', NS, 'badimage')?.status?.active, 1);
  assert.deepEqual(schemaIssues(cluster), []);
});

test('an unschedulable pod stays Pending with PodScheduled False/Unschedulable and a FailedScheduling event', async (t) => {
  const { cluster, batch } = await harness(t);
  cluster.faults.unschedulable(
    (pod) => !!pod.spec?.containers.some((c) => c.resources?.limits?.['nvidia.com/gpu']),
  );
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('gpu', 'process.exit(0)', { resources: { limits: { 'nvidia.com/gpu': '1' } } }),
  });
  const pod = await podOf(cluster, 'gpu');
  const name = pod.metadata?.name ?? '';
  const pending = await waitFor(
    'PodScheduled False',
    () => cluster.get<V1Pod>('Pod', NS, name),
    (p) => !!p?.status?.conditions?.length,
  );
  const scheduled = pending?.status?.conditions?.find((c) => c.type === 'PodScheduled');
  assert.equal(scheduled?.status, 'False');
  assert.equal(scheduled?.reason, 'Unschedulable');
  assert.match(
    scheduled?.message ?? '',
    /^0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu\./,
  );
  assert.equal(pending?.status?.phase, 'Pending');
  assert.equal(pending?.spec?.nodeName, undefined);
  const events = cluster
    .list<{ reason: string; message: string }>('Event', NS)
    .filter((e) => e.reason === 'FailedScheduling');
  assert.equal(events.length, 1);
  const log = await readLog(cluster, name);
  assert.equal(log.status, 400);
  assert.equal(JSON.parse(log.text).message, `pod ${name} does not have a host assigned`);
});

test('a missing Secret: CreateContainerConfigError until it exists, then the container starts with its value', async (t) => {
  const { cluster, batch } = await harness(t);
  const shared = await sharedDir(t);
  const out = join(shared, 'env');
  const script = `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ token: process.env.NES_GITHUB_TOKEN, user: process.env.WAREHOUSE_USER }))`;
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('secretive', script, {
      env: [
        {
          name: 'NES_GITHUB_TOKEN',
          valueFrom: { secretKeyRef: { name: 'nes-github', key: 'token' } },
        },
      ],
      envFrom: [{ secretRef: { name: 'warehouse', optional: false } }],
    }),
  });
  const pod = await podOf(cluster, 'secretive');
  const name = pod.metadata?.name ?? '';
  const waiting = await waitFor(
    'CreateContainerConfigError',
    () => cluster.get<V1Pod>('Pod', NS, name),
    (p) => waitingReason(p) === 'CreateContainerConfigError',
  );
  assert.equal(
    waiting?.status?.containerStatuses?.[0]?.state?.waiting?.message,
    'secret "warehouse" not found',
  );
  const log = await readLog(cluster, name);
  assert.equal(log.status, 400);
  assert.equal(
    JSON.parse(log.text).message,
    `container "runner" in pod "${name}" is waiting to start: CreateContainerConfigError`,
  );

  cluster.createSecret(NS, 'warehouse', { WAREHOUSE_USER: 'analyst' });
  cluster.createSecret(NS, 'nes-github', { other: 'x' });
  await waitFor(
    'the missing key',
    () => cluster.get<V1Pod>('Pod', NS, name),
    (p) =>
      p?.status?.containerStatuses?.[0]?.state?.waiting?.message ===
      `couldn't find key token in Secret ${NS}/nes-github`,
  );
  const failedEvents = cluster
    .list<{ reason: string; message: string }>('Event', NS)
    .filter((e) => e.reason === 'Failed')
    .map((e) => e.message);
  assert.ok(failedEvents.includes('Error: secret "warehouse" not found'));

  cluster.createSecret(NS, 'nes-github', { token: 'ghp_test' });
  await waitFor('Complete', () => cluster.get<V1Job>('Job', NS, 'secretive'), isFinished);
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { token: 'ghp_test', user: 'analyst' });
  assert.deepEqual(cluster.specViolations, []);
});

test('a detached grandchild (its own process group, like a Jupyter Server) counts for the memory limit and is the one killed', async (t) => {
  const { cluster, batch } = await harness(t);
  const shared = await sharedDir(t);
  const pidFile = join(shared, 'grandchild');
  const hog = 'const keep = []; setInterval(() => keep.push(Buffer.alloc(16 << 20, 1)), 50);';
  const script = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ['-e', ${JSON.stringify(hog)}], { detached: true, stdio: 'ignore' });
    require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));
    // Outlives it (the OOM killer took the biggest process), then ends as nes-run does.
    setInterval(() => { try { process.kill(child.pid, 0); } catch { process.exit(6); } }, 50);`;
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob(
      'grandchild',
      script,
      { resources: { limits: { memory: '200Mi' } } },
      FAIL_ON_NON_ZERO,
    ),
  });
  await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'grandchild'), isFinished);
  const pod = await podOf(cluster, 'grandchild');
  assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'OOMKilled');
  assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 6);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  await waitFor(
    'the grandchild to die',
    () => {
      try {
        process.kill(grandchild, 0);
        return false;
      } catch {
        return true;
      }
    },
    Boolean,
  );
});

test('logs of a container still being created answer 400 ContainerCreating', async (t) => {
  // An image pull that takes a minute keeps the container in ContainerCreating.
  const { cluster, batch } = await harness(t, { kubelet: { pullDelayMs: 60_000 } });
  await batch.createNamespacedJob({ namespace: NS, body: nodeJob('slowpull', 'process.exit(0)') });
  const pod = await podOf(cluster, 'slowpull');
  const name = pod.metadata?.name ?? '';
  await waitFor(
    'the kubelet to take the pod',
    () => cluster.get<V1Pod>('Pod', NS, name),
    (p) => waitingReason(p) === 'ContainerCreating',
  );
  const log = await readLog(cluster, name, 'container=runner&follow=true');
  assert.equal(log.status, 400);
  const status = JSON.parse(log.text);
  assert.equal(status.reason, 'BadRequest');
  assert.equal(
    status.message,
    `container "runner" in pod "${name}" is waiting to start: ContainerCreating`,
  );
  assert.equal(cluster.get<V1Pod>('Pod', NS, name)?.status?.phase, 'Pending');
});
