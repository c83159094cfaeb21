/**
 * The run state mapper against Job, Pod and Event objects shaped as the API server returns them
 * (batch/v1 Job conditions as the Job controller of Kubernetes 1.31+ writes them, pod statuses as
 * the kubelet writes them). Timestamps come as strings (watch events) or Dates (the client's
 * typed list calls): both are covered.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CoreV1Event, V1Job, V1JobCondition, V1Pod } from '@kubernetes/client-node';
import { buildRunJob } from '../src/executors/kubernetes/job-builder.ts';
import {
  CANCEL_ANNOTATION,
  judgeRunState,
  mapRunState,
  observedState,
  type RunObjects,
  type RunStateOptions,
} from '../src/executors/kubernetes/run-state.ts';
import { run, settings } from './k8s-support.ts';

const RUN_ID = '01jd0000000000000000000000';
const T0 = Date.parse('2026-11-01T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const OPTIONS = { pendingTimeoutSeconds: 300 };
const OUTPUT = `gs://acme-nes/prod/runs/${RUN_ID}/output.ipynb`;

/** The Job NES creates, as the API server returns it after create (uid, status filled later). */
function job(
  status: V1Job['status'] = {},
  extra: { suspend?: boolean; annotations?: Record<string, string> } = {},
): V1Job {
  const built = buildRunJob(run(), settings());
  return {
    ...built,
    metadata: {
      ...built.metadata,
      uid: 'b9d3a0c2-5a8e-4a61-9d1f-2f1e0c6b7a11',
      resourceVersion: '12345',
      creationTimestamp: at(0) as unknown as Date,
      annotations: { ...built.metadata?.annotations, ...extra.annotations },
    },
    spec: {
      ...built.spec,
      template: built.spec?.template ?? {},
      ...(extra.suspend ? { suspend: true } : {}),
    },
    status,
  } as V1Job;
}

// Watch events carry timestamps as strings; the typed model says Date.
const cond = (type: string, reason: string, message: string, seconds: number): V1JobCondition =>
  ({
    type,
    status: 'True',
    reason,
    message,
    lastProbeTime: at(seconds),
    lastTransitionTime: at(seconds),
  }) as unknown as V1JobCondition;

function pod(name: string, status: V1Pod['status'], created = 1): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'nes-runs',
      uid: `uid-${name}`,
      creationTimestamp: at(created) as unknown as Date,
      labels: { 'batch.kubernetes.io/job-name': `nes-${RUN_ID}`, 'nes.dev/run-id': RUN_ID },
      annotations: { 'nes.dev/output-uri': OUTPUT },
    },
    spec: {
      containers: [{ name: 'runner', image: 'ghcr.io/nes/runner:1.0.0' }],
      restartPolicy: 'Never',
    },
    status,
  };
}

const runnerStatus = (state: object, extra: object = {}) => ({
  name: 'runner',
  image: 'ghcr.io/nes/runner:1.0.0',
  imageID: '',
  ready: false,
  restartCount: 0,
  started: false,
  state,
  ...extra,
});

const pendingPod = (state: object, conditions: object[] = [], created = 1) =>
  pod(
    'nes-a-x1',
    {
      phase: 'Pending',
      conditions,
      containerStatuses: [runnerStatus(state)],
      startTime: at(created) as unknown as Date,
    } as V1Pod['status'],
    created,
  );

const runningPod = (started = 5) =>
  pod('nes-a-x1', {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [
      runnerStatus({ running: { startedAt: at(started) } }, { ready: true, started: true }),
    ],
  } as V1Pod['status']);

function terminatedPod(
  exitCode: number,
  extra: { reason?: string; message?: string; name?: string; created?: number } = {},
) {
  return pod(
    extra.name ?? 'nes-a-x1',
    {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      conditions: [{ type: 'Ready', status: 'False', reason: 'PodCompleted' }],
      containerStatuses: [
        runnerStatus({
          terminated: {
            exitCode,
            reason: extra.reason ?? (exitCode === 0 ? 'Completed' : 'Error'),
            ...(extra.message !== undefined ? { message: extra.message } : {}),
            startedAt: at(5),
            finishedAt: at(60),
            containerID: 'containerd://abc',
          },
        }),
      ],
    } as V1Pod['status'],
    extra.created ?? 1,
  );
}

const resultMessage = (fields: object) =>
  JSON.stringify({ v: 1, cellsDone: 2, cellsTotal: 5, outputUri: OUTPUT, ...fields });

const objects = (j: V1Job | null, pods: V1Pod[], events?: CoreV1Event[]): RunObjects => ({
  runId: RUN_ID,
  job: j,
  pods,
  ...(events ? { events } : {}),
});

function finishedOf(o: RunObjects, now = T0 + 120_000, options: RunStateOptions = OPTIONS) {
  const update = mapRunState(o, now, options);
  assert.equal(update?.type, 'finished', JSON.stringify(update));
  return update as Extract<typeof update, { type: 'finished' }>;
}

const failedJob = (reason: string, message: string) =>
  job({
    failed: 1,
    startTime: at(0) as unknown as Date,
    conditions: [cond('FailureTarget', reason, message, 60), cond('Failed', reason, message, 61)],
  });

describe('finished Jobs (the durable truth)', () => {
  test('SuccessCriteriaMet then Complete -> succeeded, with the output from the termination message', () => {
    const done = job({
      succeeded: 1,
      startTime: at(0) as unknown as Date,
      completionTime: at(61) as unknown as Date,
      conditions: [
        cond(
          'SuccessCriteriaMet',
          'CompletionsReached',
          'Reached expected number of succeeded pods',
          61,
        ),
        cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods', 61),
      ],
    });
    const update = finishedOf(
      objects(done, [
        terminatedPod(0, { message: resultMessage({ status: 'succeeded', exitCode: 0 }) }),
      ]),
    );
    assert.deepEqual(update, {
      type: 'finished',
      runId: RUN_ID,
      time: at(61),
      status: 'succeeded',
      error: null,
      outputUri: OUTPUT,
    });
    // The pod gone (TTL, GC): the Job alone still says succeeded.
    assert.equal(finishedOf(objects(done, [])).status, 'succeeded');
    assert.equal(observedState(done, []), 'finished');
  });

  test('SuccessCriteriaMet alone is not the end yet (the pod is still finishing)', () => {
    const interim = job({
      conditions: [
        cond(
          'SuccessCriteriaMet',
          'CompletionsReached',
          'Reached expected number of succeeded pods',
          61,
        ),
      ],
    });
    assert.equal(
      mapRunState(objects(interim, [runningPod()]), T0 + 62_000, OPTIONS)?.type,
      'running',
    );
  });

  test('PodFailurePolicy with the runner termination message -> cell_error with ename, evalue, cellIndex', () => {
    const message =
      'Container runner for pod nes-runs/nes-a-x1 failed with exit code 1 matching FailJob rule at index 1';
    const pods = [
      terminatedPod(1, {
        message: resultMessage({
          status: 'failed',
          class: 'cell_error',
          ename: 'ZeroDivisionError',
          evalue: 'division by zero',
          cellIndex: 4,
          cellNumber: 3,
          exitCode: 1,
        }),
      }),
    ];
    const update = finishedOf(objects(failedJob('PodFailurePolicy', message), pods));
    assert.equal(update.status, 'failed');
    assert.deepEqual(update.error, {
      class: 'cell_error',
      ename: 'ZeroDivisionError',
      evalue: 'division by zero',
      cellIndex: 4,
      cellNumber: 3,
    });
    assert.equal(update.time, at(61));
    assert.equal(update.outputUri, OUTPUT);
  });

  test('PodFailurePolicy with the pod gone: the exit code is read from the condition message', () => {
    const cases: Array<[number, string, string]> = [
      [1, 'failed', 'cell_error'],
      [3, 'failed', 'source'],
      [4, 'timed_out', 'timeout'],
      [5, 'failed', 'kernel_died'],
      [6, 'failed', 'oom'],
      [7, 'failed', 'infra'],
      [2, 'failed', 'infra'],
      [130, 'failed', 'infra'], // no cancel asked: the pod was deleted
      [42, 'failed', 'infra'],
    ];
    for (const [code, status, failureClass] of cases) {
      const message = `Container runner for pod nes-runs/nes-a-x1 failed with exit code ${code} matching FailJob rule at index 1`;
      const update = finishedOf(objects(failedJob('PodFailurePolicy', message), []));
      assert.equal(update.status, status, `exit ${code}`);
      assert.equal(update.error?.class, failureClass, `exit ${code}`);
      assert.match(update.error?.evalue ?? '', new RegExp(`exit code ${code}`));
      assert.equal(update.outputUri, OUTPUT, 'from the Job annotation');
    }
  });

  test('a non-JSON termination message (FallbackToLogsOnError log tail) becomes the evalue', () => {
    const pods = [
      terminatedPod(7, {
        message:
          'Input Notebook: x\nnes-run: infra: cannot write gs://acme-nes/prod/runs/x/output.ipynb: 403',
      }),
    ];
    const update = finishedOf(
      objects(
        failedJob(
          'PodFailurePolicy',
          'Container runner for pod nes-runs/nes-a-x1 failed with exit code 7 matching FailJob rule at index 1',
        ),
        pods,
      ),
    );
    assert.equal(update.error?.class, 'infra');
    assert.equal(
      update.error?.evalue,
      'nes-run: infra: cannot write gs://acme-nes/prod/runs/x/output.ipynb: 403',
    );
  });

  test('OOMKilled (container memory limit) -> oom, whatever the exit code rule said', () => {
    const pods = [terminatedPod(137, { reason: 'OOMKilled' })];
    const update = finishedOf(
      objects(
        failedJob(
          'PodFailurePolicy',
          'Container runner for pod nes-runs/nes-a-x1 failed with exit code 137 matching FailJob rule at index 1',
        ),
        pods,
      ),
    );
    assert.equal(update.status, 'failed');
    assert.equal(update.error?.class, 'oom');
    assert.equal(update.error?.ename, 'OOMKilled');
  });

  test('DeadlineExceeded -> timed_out, even if the runner was stopped with SIGTERM (exit 130)', () => {
    const j = failedJob('DeadlineExceeded', 'Job was active longer than specified deadline');
    const update = finishedOf(objects(j, [terminatedPod(130)]));
    assert.equal(update.status, 'timed_out');
    assert.equal(update.error?.class, 'timeout');
    assert.equal(update.error?.ename, 'DeadlineExceeded');
    assert.match(update.error?.evalue ?? '', /deadline of 1200 s/);
  });

  test('BackoffLimitExceeded uses the failed pod: OOMKilled, an exit code, or the condition', () => {
    const j = failedJob('BackoffLimitExceeded', 'Job has reached the specified backoff limit');
    assert.equal(
      finishedOf(objects(j, [terminatedPod(137, { reason: 'OOMKilled' })])).error?.class,
      'oom',
    );
    assert.equal(finishedOf(objects(j, [terminatedPod(5)])).error?.class, 'kernel_died');
    const bare = finishedOf(objects(j, []));
    assert.equal(bare.status, 'failed');
    assert.deepEqual(bare.error, {
      class: 'infra',
      ename: 'BackoffLimitExceeded',
      evalue: 'Job has reached the specified backoff limit',
      cellIndex: null,
    });
  });

  test('a failed Job after a cancel request with exit 130 -> cancelled', () => {
    const j = failedJob(
      'PodFailurePolicy',
      'Container runner for pod nes-runs/nes-a-x1 failed with exit code 130 matching FailJob rule at index 1',
    );
    const update = finishedOf(objects(j, [terminatedPod(130)]), T0 + 120_000, {
      ...OPTIONS,
      cancelRequested: true,
    });
    assert.equal(update.status, 'cancelled');
    assert.equal(update.error?.class, 'cancelled');
  });
});

describe('running and pending', () => {
  test('a running runner -> running at its start time; observe says running', () => {
    const j = job({ active: 1, ready: 1, startTime: at(0) as unknown as Date });
    assert.deepEqual(mapRunState(objects(j, [runningPod(5)]), T0 + 10_000, OPTIONS), {
      type: 'running',
      runId: RUN_ID,
      time: at(5),
    });
    assert.equal(observedState(j, [runningPod(5)]), 'running');
  });

  test('the runner failed before the Job condition arrives -> the same answer from the pod', () => {
    const j = job({ active: 1, startTime: at(0) as unknown as Date });
    const pods = [
      terminatedPod(1, {
        message: resultMessage({
          class: 'cell_error',
          ename: 'KeyError',
          evalue: "'x'",
          cellIndex: 2,
          exitCode: 1,
        }),
      }),
    ];
    const judged = judgeRunState(objects(j, pods), T0 + 61_000, OPTIONS);
    assert.equal(judged?.judged, false);
    assert.equal(judged?.update.type === 'finished' && judged.update.error?.ename, 'KeyError');
  });

  test('the runner exited 0 before the Complete condition -> succeeded from the pod', () => {
    const j = job({ active: 1, startTime: at(0) as unknown as Date });
    const pods = [
      terminatedPod(0, { message: resultMessage({ status: 'succeeded', exitCode: 0 }) }),
    ];
    const update = finishedOf(objects(j, pods), T0 + 61_000);
    assert.equal(update.status, 'succeeded');
    assert.equal(update.error, null);
    assert.equal(update.time, at(60));
    assert.equal(observedState(j, pods), 'finished');
  });

  test('unschedulable: nothing before the pending timeout, then infra with the scheduler message', () => {
    const j = job({ active: 1, startTime: at(0) as unknown as Date });
    const message =
      '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
    const p = pod('nes-a-x1', {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message,
          lastTransitionTime: at(1) as unknown as Date,
        },
      ],
    } as V1Pod['status']);
    assert.equal(mapRunState(objects(j, [p]), T0 + 200_000, OPTIONS), null);
    assert.equal(observedState(j, [p]), 'pending');
    const judged = judgeRunState(objects(j, [p]), T0 + 302_000, OPTIONS);
    assert.equal(judged?.judged, true);
    const update = judged?.update as Extract<
      NonNullable<typeof judged>['update'],
      { type: 'finished' }
    >;
    assert.equal(update.status, 'failed');
    assert.equal(update.error?.class, 'infra');
    assert.equal(update.error?.ename, 'Unschedulable');
    assert.ok(update.error?.evalue.includes(message));
  });

  test('unschedulable with the message only in a FailedScheduling event', () => {
    const j = job({ active: 1 });
    const p = pod('nes-a-x1', {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
    } as V1Pod['status']);
    const events: CoreV1Event[] = [
      {
        metadata: {
          name: 'nes-a-x1.1',
          namespace: 'nes-runs',
          creationTimestamp: at(2) as unknown as Date,
        },
        involvedObject: { kind: 'Pod', name: 'nes-a-x1', namespace: 'nes-runs' },
        reason: 'FailedScheduling',
        message: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
        type: 'Warning',
        lastTimestamp: at(2) as unknown as Date,
      },
    ];
    const update = finishedOf(objects(j, [p], events), T0 + 400_000);
    assert.match(update.error?.evalue ?? '', /didn't match Pod's node affinity/);
  });

  test('ErrImagePull / ImagePullBackOff -> infra after the pending timeout; InvalidImageName at once', () => {
    const j = job({ active: 1 });
    for (const reason of ['ErrImagePull', 'ImagePullBackOff']) {
      const p = pendingPod({
        waiting: { reason, message: 'Back-off pulling image "ghcr.io/nes/runner:nope"' },
      });
      assert.equal(mapRunState(objects(j, [p]), T0 + 100_000, OPTIONS), null, reason);
      const update = finishedOf(objects(j, [p]), T0 + 302_000);
      assert.equal(update.error?.class, 'infra');
      assert.equal(update.error?.ename, 'ImagePullFailed');
      assert.match(update.error?.evalue ?? '', new RegExp(`${reason}.*runner:nope`));
    }
    const invalid = pendingPod({
      waiting: {
        reason: 'InvalidImageName',
        message: 'Failed to apply default image tag "Bad Image": couldn\'t parse image name',
      },
    });
    const update = finishedOf(objects(j, [invalid]), T0 + 2000);
    assert.equal(update.error?.ename, 'InvalidImageName');
    assert.match(update.error?.evalue ?? '', /couldn't parse image name/);
  });

  test('CreateContainerConfigError (missing Secret) -> infra at once, judged, with the message', () => {
    const j = job({ active: 1 });
    const p = pendingPod(
      {
        waiting: { reason: 'CreateContainerConfigError', message: 'secret "warehouse" not found' },
      },
      [{ type: 'PodScheduled', status: 'True' }],
    );
    const judged = judgeRunState(objects(j, [p]), T0 + 3000, OPTIONS);
    assert.equal(judged?.judged, true);
    const update = judged?.update as Extract<
      NonNullable<typeof judged>['update'],
      { type: 'finished' }
    >;
    assert.equal(update.status, 'failed');
    assert.deepEqual(update.error, {
      class: 'infra',
      ename: 'CreateContainerConfigError',
      evalue: 'The runner container cannot be created: secret "warehouse" not found',
      cellIndex: null,
    });
  });

  test('no pod created (quota) -> infra after the timeout with the FailedCreate event', () => {
    const j = job({ active: 0 });
    const events: CoreV1Event[] = [
      {
        metadata: { name: 'nes-x.1', namespace: 'nes-runs' },
        involvedObject: { kind: 'Job', name: `nes-${RUN_ID}`, namespace: 'nes-runs' },
        reason: 'FailedCreate',
        message:
          'Error creating: pods "nes-x-abc" is forbidden: exceeded quota: runs, requested: requests.memory=1Gi, used: requests.memory=8Gi, limited: requests.memory=8Gi',
        type: 'Warning',
        lastTimestamp: at(1) as unknown as Date,
      },
    ];
    assert.equal(mapRunState(objects(j, [], events), T0 + 10_000, OPTIONS), null);
    const update = finishedOf(objects(j, [], events), T0 + 301_000);
    assert.equal(update.error?.ename, 'PodNotCreated');
    assert.match(update.error?.evalue ?? '', /exceeded quota/);
  });

  test('a Kueue-suspended Job waits (queued), however long; observe says pending', () => {
    const suspended = job(
      { conditions: [cond('Suspended', 'JobSuspended', 'Job suspended', 0)] },
      { suspend: true },
    );
    assert.equal(mapRunState(objects(suspended, []), T0 + 86_400_000, OPTIONS), null);
    assert.equal(observedState(suspended, []), 'pending');
  });
});

describe('disruption, cancel and vanished Jobs', () => {
  test('an evicted pod (DisruptionTarget) is ignored: the replacement pod carries the run', () => {
    const j = job({ active: 1, failed: 0, startTime: at(0) as unknown as Date });
    const evicted = pod('nes-a-x1', {
      phase: 'Failed',
      reason: 'Evicted',
      message: 'The node was low on resource: memory.',
      conditions: [
        {
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'TerminationByKubelet',
          message: 'The node was low on resource: memory.',
        },
      ],
      containerStatuses: [
        runnerStatus({
          terminated: { exitCode: 130, reason: 'Error', startedAt: at(5), finishedAt: at(30) },
        }),
      ],
    } as V1Pod['status']);
    // No replacement yet -> nothing to report (not failed), even long after the Job started;
    // the pending timeout counts from the disruption.
    const disruptedAt = {
      ...evicted,
      status: {
        ...evicted.status,
        conditions: [
          {
            type: 'DisruptionTarget',
            status: 'True',
            reason: 'TerminationByKubelet',
            lastTransitionTime: at(1000) as unknown as Date,
          },
        ],
      },
    };
    assert.equal(judgeRunState(objects(j, [disruptedAt]), T0 + 1001_000, OPTIONS), null);
    assert.equal(
      finishedOf(objects(j, [disruptedAt]), T0 + 1301_000).error?.ename,
      'PodNotCreated',
    );
    const replacement = {
      ...runningPod(40),
      metadata: {
        ...runningPod(40).metadata,
        name: 'nes-a-x2',
        creationTimestamp: at(31) as unknown as Date,
      },
    };
    assert.deepEqual(mapRunState(objects(j, [evicted, replacement]), T0 + 45_000, OPTIONS), {
      type: 'running',
      runId: RUN_ID,
      time: at(40),
    });
    // Finished on the replacement: the evicted pod's exit 130 does not count.
    const done = job({
      succeeded: 1,
      failed: 0,
      conditions: [
        cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods', 90),
      ],
    });
    const second = terminatedPod(0, { name: 'nes-a-x2', created: 31 });
    assert.equal(finishedOf(objects(done, [evicted, second])).status, 'succeeded');
  });

  test('Job deleted after a cancel: waits for the stopping pod, then cancelled', () => {
    const stopping = {
      ...runningPod(),
      metadata: { ...runningPod().metadata, deletionTimestamp: at(70) as unknown as Date },
    };
    assert.equal(
      mapRunState(objects(null, [stopping]), T0 + 71_000, { ...OPTIONS, cancelRequested: true }),
      null,
    );
    const update = finishedOf(objects(null, [terminatedPod(130)]), T0 + 75_000, {
      ...OPTIONS,
      cancelRequested: true,
    });
    assert.equal(update.status, 'cancelled');
    assert.equal(update.outputUri, OUTPUT);
    // With the pod gone too, the request alone says cancelled.
    assert.equal(
      finishedOf(objects(null, []), T0 + 80_000, { ...OPTIONS, cancelRequested: true }).status,
      'cancelled',
    );
  });

  test('the cancel annotation on the Job counts as the request (another replica asked)', () => {
    const j = failedJob(
      'PodFailurePolicy',
      'Container runner for pod nes-runs/nes-a-x1 failed with exit code 130 matching FailJob rule at index 1',
    );
    j.metadata = {
      ...j.metadata,
      annotations: { ...j.metadata?.annotations, [CANCEL_ANNOTATION]: 'true' },
    };
    assert.equal(finishedOf(objects(j, [])).status, 'cancelled');
  });

  test('runner exit 130 without a cancel asked (the pod deleted) -> failed infra RunnerTerminated', () => {
    const update = finishedOf(objects(null, [terminatedPod(130)]));
    assert.equal(update.status, 'failed');
    assert.equal(update.error?.class, 'infra');
    assert.equal(update.error?.ename, 'RunnerTerminated');
    assert.match(update.error?.evalue ?? '', /without a cancel/);
    // Even when the runner's own result says cancelled: it cannot tell who sent SIGTERM.
    const said = terminatedPod(130, {
      message: JSON.stringify({ v: 1, status: 'cancelled', class: 'cancelled' }),
    });
    assert.equal(finishedOf(objects(null, [said])).error?.class, 'infra');
    // With the cancel asked, the same exit is the cancel.
    const asked = mapRunState(objects(null, [terminatedPod(130)]), T0, {
      ...OPTIONS,
      cancelRequested: true,
    });
    assert.equal(asked?.type === 'finished' && asked.status, 'cancelled');
  });

  test('a Job that vanished without a terminal condition or exit -> judged infra RunLost', () => {
    const judged = judgeRunState(objects(null, []), T0 + 100_000, OPTIONS);
    assert.equal(judged?.judged, true);
    const update = judged?.update as Extract<
      NonNullable<typeof judged>['update'],
      { type: 'finished' }
    >;
    assert.equal(update.status, 'failed');
    assert.equal(update.error?.class, 'infra');
    assert.equal(update.error?.ename, 'RunLost');
    assert.equal(observedState(null, []), 'unknown');
  });

  test('Date timestamps (typed list calls) read like strings (watch events)', () => {
    const j = job({ active: 1 });
    const p = pendingPod({ waiting: { reason: 'ImagePullBackOff', message: 'x' } });
    p.metadata = { ...p.metadata, creationTimestamp: new Date(T0) };
    assert.equal(mapRunState(objects(j, [p]), T0 + 299_000, OPTIONS), null);
    assert.equal(finishedOf(objects(j, [p]), T0 + 301_000).error?.ename, 'ImagePullFailed');
  });
});

describe('what a real v1.28 cluster showed', () => {
  const deadlineJob = () =>
    job({
      active: 1,
      startTime: at(0) as unknown as Date,
      // v1.28: Failed at once, no FailureTarget, while the pod still runs.
      conditions: [
        cond('Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline', 90),
      ],
    });

  test('a Job past its deadline with its runner still saving: nothing yet, then timed_out', () => {
    assert.equal(mapRunState(objects(deadlineJob(), [runningPod()]), T0 + 91_000, OPTIONS), null);
    const result = JSON.stringify({
      v: 1,
      status: 'cancelled',
      class: 'cancelled',
      outputUri: OUTPUT,
    });
    const stopped = terminatedPod(130, { message: result });
    const update = finishedOf(objects(deadlineJob(), [stopped]), T0 + 95_000);
    assert.equal(update.status, 'timed_out');
    assert.equal(update.error?.class, 'timeout');
    assert.equal(update.error?.ename, 'DeadlineExceeded');
    assert.equal(update.outputUri, OUTPUT);
  });

  test('a Job whose deadline passed before any runner started reports no output notebook', () => {
    const pending = pendingPod({ waiting: { reason: 'ContainerCreating' } });
    const update = finishedOf(objects(deadlineJob(), [pending]), T0 + 95_000);
    assert.equal(update.status, 'timed_out');
    assert.equal(update.outputUri, null);
  });

  test('an image that cannot be pulled: the root cause from the Failed event, no output notebook', () => {
    const backOff = pendingPod({
      waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nes-runner:nope"' },
    });
    const events = [
      {
        metadata: { name: 'e1', creationTimestamp: at(3) as unknown as Date },
        involvedObject: { kind: 'Pod', name: 'nes-a-x1' },
        reason: 'Failed',
        message:
          'Failed to pull image "nes-runner:nope": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nes-runner:nope": not found',
        type: 'Warning',
      },
      {
        metadata: { name: 'e2', creationTimestamp: at(4) as unknown as Date },
        involvedObject: { kind: 'Pod', name: 'nes-a-x1' },
        reason: 'BackOff',
        message: 'Back-off pulling image "nes-runner:nope"',
        type: 'Normal',
      },
    ] as CoreV1Event[];
    const update = finishedOf(objects(job({ active: 1 }), [backOff], events), T0 + 301_000);
    assert.equal(update.error?.ename, 'ImagePullFailed');
    assert.match(update.error?.evalue ?? '', /not found/);
    assert.equal(update.outputUri, null, 'no runner ran: there is no output notebook');
  });
});
