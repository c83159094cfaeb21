/**
 * Jobs that really run: a `node -e` container to Complete (conditions, pod status, termination
 * message, logs with timestamps and a sinceTime resume after a dropped stream), to Failed by
 * podFailurePolicy, by activeDeadlineSeconds, and the deletion protocols (Background, Orphan,
 * Foreground, SIGTERM then SIGKILL after the grace period, ttlSecondsAfterFinished).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

/** The Job NES builds, reduced to what these tests need: emptyDirs, the failure policy, the result file. */
function nesLikeJob(
  name: string,
  script: string,
  extra: Partial<NonNullable<V1Job['spec']>> = {},
): V1Job {
  const job = nodeJob(
    name,
    script,
    {
      env: [
        { name: 'NES_RESULT_FILE', value: '/dev/termination-log' },
        { name: 'HOME', value: '/home/nes' },
        { name: 'TMPDIR', value: '/tmp' },
      ],
      terminationMessagePolicy: 'FallbackToLogsOnError',
      volumeMounts: [
        { name: 'nes-tmp', mountPath: '/tmp' },
        { name: 'nes-home', mountPath: '/home/nes' },
      ],
    },
    {
      podFailurePolicy: {
        rules: [
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          {
            action: 'FailJob',
            onExitCodes: { containerName: 'runner', operator: 'NotIn', values: [0] },
          },
        ],
      },
      ...extra,
    },
  );
  const spec = job.spec?.template.spec;
  if (spec) {
    spec.volumes = [
      { name: 'nes-tmp', emptyDir: {} },
      { name: 'nes-home', emptyDir: {} },
    ];
  }
  return job;
}

test('a Job runs a real process to Complete: conditions, pod status, termination message, events, logs', async (t) => {
  const { cluster, batch } = await harness(t);
  const shared = await sharedDir(t);
  const gate = join(shared, 'gate');
  const script = `
    const fs = require('node:fs');
    fs.writeFileSync(process.env.TMPDIR + '/scratch', 'x');
    fs.writeFileSync(process.env.HOME + '/.rc', 'y');
    console.log('line 1'); console.log('line 2'); console.error('line 3 on stderr');
    fs.writeFileSync(${JSON.stringify(join(shared, 'seen'))}, JSON.stringify({ tmp: process.env.TMPDIR, home: process.env.HOME, result: process.env.NES_RESULT_FILE, cwd: process.cwd() }));
    const wait = setInterval(() => {
      if (!fs.existsSync(${JSON.stringify(gate)})) return;
      clearInterval(wait);
      console.log('line 4'); console.log('line 5');
      fs.writeFileSync(process.env.NES_RESULT_FILE, JSON.stringify({ status: 'succeeded' }));
    }, 20);`;
  await batch.createNamespacedJob({ namespace: NS, body: nesLikeJob('complete', script) });
  const pod = await podOf(cluster, 'complete');
  const name = pod.metadata?.name ?? '';
  assert.match(name, /^complete-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, 'Job');
  assert.equal(pod.metadata?.ownerReferences?.[0]?.controller, true);
  assert.equal(pod.metadata?.labels?.['batch.kubernetes.io/job-name'], 'complete');

  // Follow the log until line 3, then the stream drops.
  await waitFor('the process to write', () => existsSync(join(shared, 'seen')), Boolean);
  const running = await waitFor(
    'Ready',
    () => cluster.get<V1Job>('Job', NS, 'complete'),
    (job) => job?.status?.ready === 1,
  );
  assert.equal(running?.status?.active, 1);
  const follow = await fetch(
    `${cluster.url}/api/v1/namespaces/${NS}/pods/${name}/log?container=runner&follow=true&timestamps=true`,
    {
      headers: { authorization: `Bearer ${cluster.token}` },
    },
  );
  assert.equal(follow.status, 200);
  const reader = follow.body?.getReader();
  let received = '';
  while (!received.includes('line 3')) {
    const chunk = await reader?.read();
    if (!chunk || chunk.done) break;
    received += Buffer.from(chunk.value).toString();
  }
  cluster.faults.dropLogStreams();
  await assert.rejects(async () => {
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) throw new Error('ended cleanly');
    }
  });
  const lines = received.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  for (const line of lines)
    assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z line \d/);
  const lastStamp = (lines.at(-1) ?? '').split(' ')[0] ?? '';

  writeFileSync(gate, '');
  const job = await waitFor(
    'Complete',
    () => cluster.get<V1Job>('Job', NS, 'complete'),
    isFinished,
  );
  assert.deepEqual(conditionsOf(job), ['Complete=True/CompletionsReached']);
  assert.equal(job?.status?.succeeded, 1);
  assert.equal(job?.status?.failed, 0);
  assert.equal(job?.status?.active, 0);
  assert.ok(job?.status?.startTime && job.status.completionTime);

  const finished = cluster.get<V1Pod>('Pod', NS, name);
  assert.equal(finished?.status?.phase, 'Succeeded');
  const terminated = finished?.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(terminated?.exitCode, 0);
  assert.equal(terminated?.reason, 'Completed');
  assert.equal(terminated?.message, '{"status":"succeeded"}');
  assert.ok(terminated?.startedAt && terminated.finishedAt);
  assert.deepEqual(
    finished?.status?.conditions?.map((c) => `${c.type}=${c.status}`),
    [
      'PodReadyToStartContainers=False',
      'Initialized=True',
      'Ready=False',
      'ContainersReady=False',
      'PodScheduled=True',
    ],
  );

  // The container's paths were mapped into the pod's own directories.
  const seen = JSON.parse(readFileSync(join(shared, 'seen'), 'utf8'));
  assert.match(seen.tmp, /\/volumes\/nes-tmp$/);
  assert.match(seen.home, /\/volumes\/nes-home$/);
  assert.match(seen.result, /\/containers\/runner\/termination-log$/);
  assert.ok(!seen.tmp.startsWith('/tmp/nes') && seen.tmp !== '/tmp');

  // Resume with sinceTime: whole seconds, so the client drops what it already has.
  const resumed = await readLog(
    cluster,
    name,
    `container=runner&timestamps=true&sinceTime=${encodeURIComponent(lastStamp)}`,
  );
  assert.equal(resumed.status, 200);
  const resumedLines = resumed.text.trimEnd().split('\n');
  const fresh = resumedLines.filter((line) => (line.split(' ')[0] ?? '') > lastStamp);
  assert.deepEqual(
    fresh.map((line) => line.slice(line.indexOf(' ') + 1)),
    ['line 4', 'line 5'],
  );
  assert.ok(
    resumedLines.every((line) => (line.split(' ')[0] ?? '').slice(0, 19) >= lastStamp.slice(0, 19)),
  );

  const whole = await readLog(cluster, name);
  assert.equal(whole.text, 'line 1\nline 2\nline 3 on stderr\nline 4\nline 5\n');
  assert.equal((await readLog(cluster, name, 'tailLines=2')).text, 'line 4\nline 5\n');
  assert.equal((await readLog(cluster, name, 'sinceSeconds=3600')).text, whole.text);
  assert.equal((await readLog(cluster, name, 'stream=Stderr')).text, 'line 3 on stderr\n');
  assert.equal((await readLog(cluster, name, 'limitBytes=9')).text, 'line 1\nli');
  const previous = await readLog(cluster, name, 'previous=true');
  assert.equal(previous.status, 400);

  const reasons = cluster
    .list<{ reason: string; involvedObject: { name: string } }>('Event', NS)
    .map((e) => `${e.involvedObject.name === name ? 'pod' : 'job'}:${e.reason}`);
  for (const expected of [
    'job:SuccessfulCreate',
    'pod:Scheduled',
    'pod:Pulling',
    'pod:Pulled',
    'pod:Created',
    'pod:Started',
    'job:Completed',
  ]) {
    assert.ok(reasons.includes(expected), `${expected} in ${reasons.join(', ')}`);
  }
  assert.deepEqual(cluster.specViolations, []);
  assert.deepEqual(schemaIssues(cluster), []);
});

test('exit code 3 fails the Job by podFailurePolicy; FallbackToLogsOnError puts the log tail in the message', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nesLikeJob('exit3', "console.log('about to fail'); process.exit(3)"),
  });
  const job = await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'exit3'), isFinished);
  const pod = await podOf(cluster, 'exit3');
  const message = `Container runner for pod ${NS}/${pod.metadata?.name} failed with exit code 3 matching FailJob rule at index 1`;
  assert.deepEqual(conditionsOf(job), [
    'FailureTarget=True/PodFailurePolicy',
    'Failed=True/PodFailurePolicy',
  ]);
  assert.equal(job?.status?.conditions?.[1]?.message, message);
  assert.equal(job?.status?.failed, 1);
  assert.equal(job?.status?.completionTime, undefined);
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(pod.status?.phase, 'Failed');
  assert.equal(terminated?.exitCode, 3);
  assert.equal(terminated?.reason, 'Error');
  assert.equal(terminated?.message, 'about to fail\n');
  assert.deepEqual(cluster.specViolations, []);
});

test('without a podFailurePolicy, backoffLimit counts failed pods before BackoffLimitExceeded', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('retry', 'process.exit(1)', {}, { backoffLimit: 1 }),
  });
  const job = await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'retry'), isFinished);
  assert.deepEqual(conditionsOf(job), ['Failed=True/BackoffLimitExceeded']);
  assert.equal(
    job?.status?.conditions?.[0]?.message,
    'Job has reached the specified backoff limit',
  );
  assert.equal(job?.status?.failed, 2);
  assert.equal(cluster.list('Pod', NS).length, 2);
});

test('activeDeadlineSeconds: the pod is killed and the Job fails with DeadlineExceeded', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nesLikeJob('slow', 'setInterval(() => {}, 1000)', { activeDeadlineSeconds: 1 }),
  });
  const job = await waitFor('Failed', () => cluster.get<V1Job>('Job', NS, 'slow'), isFinished);
  // v1.28: Failed at once, no FailureTarget, while the deleted pod is still stopping.
  assert.deepEqual(conditionsOf(job), ['Failed=True/DeadlineExceeded']);
  assert.equal(
    job?.status?.conditions?.[0]?.message,
    'Job was active longer than specified deadline',
  );
  assert.equal(job?.status?.active, 0);
  assert.equal(job?.status?.terminating, 1);
  await waitFor(
    'the process to be gone',
    () => cluster.runningProcesses(),
    (pids) => pids.length === 0,
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('deletion: Background removes the Job now and its pod after SIGTERM; the pod gets a deletionTimestamp', async (t) => {
  const { cluster, batch } = await harness(t);
  const shared = await sharedDir(t);
  const marker = join(shared, 'term');
  const script = `process.on('SIGTERM', () => { require('fs').writeFileSync(${JSON.stringify(marker)}, 'TERM'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000);`;
  await batch.createNamespacedJob({ namespace: NS, body: nodeJob('bg', script) });
  const pod = await podOf(cluster, 'bg');
  await waitFor(
    'running',
    () => cluster.get<V1Pod>('Pod', NS, pod.metadata?.name ?? ''),
    (p) => p?.status?.phase === 'Running',
  );
  await waitFor(
    'the handler',
    async () => (await readLog(cluster, pod.metadata?.name ?? '')).text,
    (text) => text === 'up\n',
  );

  const events: string[] = [];
  const watch = new Watch(cluster.kubeConfig());
  const controller = await watch.watch(
    `/api/v1/namespaces/${NS}/pods`,
    {
      resourceVersion: cluster.get<V1Pod>('Pod', NS, pod.metadata?.name ?? '')?.metadata
        ?.resourceVersion,
    },
    (type, object: V1Pod) => {
      events.push(
        `${type} ${object.metadata?.deletionTimestamp ? 'deleting' : ''} ${object.status?.phase}`,
      );
    },
    () => {},
  );
  t.after(() => controller.abort());

  await batch.deleteNamespacedJob({ name: 'bg', namespace: NS, propagationPolicy: 'Background' });
  assert.equal(cluster.get('Job', NS, 'bg'), undefined);
  await waitFor(
    'the pod to go',
    () => cluster.list('Pod', NS),
    (pods) => pods.length === 0,
  );
  assert.equal(readFileSync(marker, 'utf8'), 'TERM');
  await waitFor(
    'the watch to deliver DELETED',
    () => events.at(-1),
    (last) => last?.startsWith('DELETED') === true,
  );
  assert.equal(events[0], 'MODIFIED deleting Running');
  assert.equal(events.at(-1), 'DELETED deleting Succeeded');
  assert.deepEqual(cluster.runningProcesses(), []);
  assert.deepEqual(cluster.specViolations, []);
});

test('deletion: SIGKILL after terminationGracePeriodSeconds when SIGTERM is ignored', async (t) => {
  const { cluster, core } = await harness(t);
  const shared = await sharedDir(t);
  const marker = join(shared, 'term');
  const script = `process.on('SIGTERM', () => require('fs').writeFileSync(${JSON.stringify(marker)}, 'ignored')); console.log('up'); setInterval(() => {}, 1000);`;
  await core.createNamespacedPod({
    namespace: NS,
    body: {
      metadata: { name: 'stubborn' },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: 'node:24', command: ['node', '-e', script] }],
      },
    },
  });
  await waitFor(
    'the handler',
    async () => (await readLog(cluster, 'stubborn')).text,
    (text) => text === 'up\n',
  );
  const last: V1Pod[] = [];
  const watch = new Watch(cluster.kubeConfig());
  const controller = await watch.watch(
    `/api/v1/namespaces/${NS}/pods`,
    { fieldSelector: 'metadata.name=stubborn' },
    (type, object: V1Pod) => {
      if (type !== 'ADDED') last.push(object);
    },
    () => {},
  );
  t.after(() => controller.abort());
  const deleting = await core.deleteNamespacedPod({ name: 'stubborn', namespace: NS });
  assert.ok(
    deleting.metadata?.deletionTimestamp,
    'a graceful delete answers the pod with its deletionTimestamp',
  );
  assert.equal(deleting.metadata?.deletionGracePeriodSeconds, 1);
  await waitFor(
    'the pod to go',
    () => cluster.get('Pod', NS, 'stubborn'),
    (pod) => pod === undefined,
  );
  assert.equal(readFileSync(marker, 'utf8'), 'ignored');
  await waitFor(
    'the DELETED event',
    () => last,
    (list) => list.length > 0 && !!list.at(-1)?.status?.containerStatuses?.[0]?.state?.terminated,
  );
  const terminated = last.at(-1)?.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(terminated?.exitCode, 137);
  assert.equal(terminated?.reason, 'Error');
  assert.deepEqual(cluster.runningProcesses(), []);
});

test('deletion: Orphan (the default for Jobs) keeps the pod running without its owner; Foreground deletes pods first', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('orphan', 'setInterval(() => {}, 1000)'),
  });
  const pod = await podOf(cluster, 'orphan');
  const podName = pod.metadata?.name ?? '';
  await waitFor(
    'running',
    () => cluster.get<V1Pod>('Pod', NS, podName),
    (p) => p?.status?.phase === 'Running',
  );
  await batch.deleteNamespacedJob({ name: 'orphan', namespace: NS });
  await waitFor(
    'the Job to go',
    () => cluster.get('Job', NS, 'orphan'),
    (job) => job === undefined,
  );
  const orphaned = await waitFor(
    'the owner reference to go',
    () => cluster.get<V1Pod>('Pod', NS, podName),
    (p) => !p?.metadata?.ownerReferences,
  );
  assert.equal(orphaned?.status?.phase, 'Running');
  assert.equal(orphaned?.metadata?.deletionTimestamp, undefined);

  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('fg', 'setInterval(() => {}, 1000)'),
  });
  const fgPod = await podOf(cluster, 'fg');
  await waitFor(
    'running',
    () => cluster.get<V1Pod>('Pod', NS, fgPod.metadata?.name ?? ''),
    (p) => p?.status?.phase === 'Running',
  );
  // The answer is the Job itself, held by the foregroundDeletion finalizer (202: deferred, cascading).
  const response = await fetch(
    `${cluster.url}/apis/batch/v1/namespaces/${NS}/jobs/fg?propagationPolicy=Foreground`,
    { method: 'DELETE', headers: { authorization: `Bearer ${cluster.token}` } },
  );
  assert.equal(response.status, 202);
  const deleting = (await response.json()) as V1Job;
  assert.ok(deleting?.metadata?.deletionTimestamp);
  assert.deepEqual(deleting?.metadata?.finalizers, ['foregroundDeletion']);
  await waitFor(
    'the Job to go after its pod',
    () => cluster.get('Job', NS, 'fg'),
    (job) => job === undefined,
  );
  assert.equal(cluster.get('Pod', NS, fgPod.metadata?.name ?? ''), undefined);
  assert.ok(cluster.get('Pod', NS, podName), 'the orphan is untouched');
  assert.deepEqual(cluster.specViolations, []);
});

test('ttlSecondsAfterFinished deletes the finished Job and its pods', async (t) => {
  const { cluster, batch } = await harness(t);
  // The TTL counts from the condition's whole-second time, so the Job may go almost at once:
  // follow it with a watch rather than sampling.
  const seen: string[] = [];
  const controller = await new Watch(cluster.kubeConfig()).watch(
    `/apis/batch/v1/namespaces/${NS}/jobs`,
    {},
    (type, job: V1Job) => seen.push(`${type} ${conditionsOf(job).join(',')}`),
    () => {},
  );
  t.after(() => controller.abort());
  await batch.createNamespacedJob({
    namespace: NS,
    body: nodeJob('ttl', 'process.exit(0)', {}, { ttlSecondsAfterFinished: 1 }),
  });
  await waitFor(
    'the TTL',
    () => seen,
    (events) => events.some((e) => e.startsWith('DELETED')),
  );
  const complete = seen.findIndex((e) => e.includes('Complete=True'));
  assert.ok(complete >= 0 && complete < seen.length - 1, seen.join('\n'));
  assert.match(seen.at(-1) ?? '', /^DELETED .*Complete=True/);
  await waitFor(
    'its pod to go',
    () => cluster.list('Pod', NS),
    (pods) => pods.length === 0,
  );
});
