/**
 * What a run's Job, pods and events say about the run: a pure function from cluster objects (as
 * the API server returns them) and a clock to the one update the scheduler should apply, or null
 * when there is nothing to report yet. The Job's conditions are the durable truth (its pods may
 * be gone after a TTL or an eviction); pods and events add the detail (exit codes, the runner's
 * termination message, waiting reasons, the scheduler's message).
 *
 * A decision NES makes on its own (a run pending too long, a config error the kubelet would retry
 * forever, a Job that vanished) is `judged`: only the replica holding the lease acts on it, and
 * it deletes the Job afterwards. Everything else can be applied by every replica: it reads the
 * same objects and reaches the same answer.
 */
import type { CoreV1Event, V1ContainerStatus, V1Job, V1Pod } from '@kubernetes/client-node';
import { type ExitVerdict, failureFromExit, parseRunnerResult } from '@nes/run-contract';
import type { RunFailure } from '../../runs/run-model.ts';
import type { ExecutorUpdate } from '../executor.ts';
import { ANNOTATIONS, RUNNER_CONTAINER } from './job-builder.ts';

/** Set on a Job before NES deletes it to cancel the run, so every replica reads the intent. */
export const CANCEL_ANNOTATION = 'nes.dev/cancel-requested';

export interface RunObjects {
  runId: string;
  job: V1Job | null;
  pods: V1Pod[];
  /** Events about the Job and its pods (optional detail for messages). */
  events?: CoreV1Event[];
}

export interface RunStateOptions {
  /** How long a run may stay unscheduled or pulling its image before it fails as infra. */
  pendingTimeoutSeconds: number;
  /** The run's cancel was asked (the store's cancelRequested, or the Job's annotation). */
  cancelRequested?: boolean;
}

export interface JudgedUpdate {
  update: ExecutorUpdate;
  /** NES decided it (a timeout, a config error, a vanished Job): lease holder only. */
  judged: boolean;
}

type Finished = Extract<ExecutorUpdate, { type: 'finished' }>;
type FinishedStatus = Finished['status'];

/** Waiting reasons the kubelet retries forever but that only an operator can fix. */
const CONFIG_ERRORS = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
]);
const IMAGE_PULL_ERRORS = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull']);

function condition(
  job: V1Job | null,
  type: string,
): { reason?: string; message?: string; lastTransitionTime?: Date | string } | null {
  const found = job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  return found ?? null;
}

/** Complete or Failed: the Job controller's final word (its pods have terminated). */
export function jobFinished(job: V1Job | null): boolean {
  return condition(job, 'Complete') !== null || condition(job, 'Failed') !== null;
}

/** Suspended (Kueue has not admitted it yet): the run waits in its queue. */
function jobSuspended(job: V1Job | null): boolean {
  return job?.spec?.suspend === true || condition(job, 'Suspended') !== null;
}

export function runnerStatus(pod: V1Pod): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((c) => c.name === RUNNER_CONTAINER);
}

/** Disrupted pods (eviction, preemption, node drain) are replaced by the Job: they never count. */
export function disrupted(pod: V1Pod): boolean {
  return (
    pod.status?.conditions?.some((c) => c.type === 'DisruptionTarget' && c.status === 'True') ===
      true ||
    (pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted')
  );
}

/** When a disrupted pod was marked (its DisruptionTarget condition, or its deletion). */
function disruptedAt(pod: V1Pod): number | null {
  if (!disrupted(pod)) return null;
  const target = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
  return (
    ms(target?.lastTransitionTime) ??
    ms(pod.metadata?.deletionTimestamp) ??
    ms(pod.metadata?.creationTimestamp)
  );
}

function ms(time: Date | string | undefined | null): number | null {
  if (time === undefined || time === null) return null;
  const value = time instanceof Date ? time.getTime() : Date.parse(time);
  return Number.isNaN(value) ? null : value;
}

function iso(time: Date | string | undefined | null, fallback: number): string {
  return new Date(ms(time) ?? fallback).toISOString();
}

/** Pods sorted oldest first; the newest that is not disrupted is the run's attempt. */
function currentPod(pods: V1Pod[]): V1Pod | undefined {
  const live = pods.filter((pod) => !disrupted(pod));
  live.sort(
    (a, b) => (ms(a.metadata?.creationTimestamp) ?? 0) - (ms(b.metadata?.creationTimestamp) ?? 0),
  );
  return live.at(-1);
}

interface ExitFacts {
  exitCode: number;
  /** The container's terminated reason (`OOMKilled`, `Error`, `Completed`). */
  reason?: string;
  message?: string;
  finishedAt?: Date | string;
}

/** What an exit of the runner container means, with its termination message when present. */
function failureFromContainerExit(exit: ExitFacts, cancelRequested: boolean): ExitVerdict {
  const result = parseRunnerResult(exit.message);
  return failureFromExit(
    {
      exitCode: exit.exitCode,
      oomKilled: exit.reason === 'OOMKilled',
      result,
      // Without the runner's JSON the kubelet keeps the log's tail (FallbackToLogsOnError).
      lastWords: result ? null : exit.message,
    },
    cancelRequested,
  );
}

/** A runner container of the run has started: only then can its output notebook exist. */
function runnerStarted(pods: V1Pod[]): boolean {
  return pods.some((pod) => {
    const status = runnerStatus(pod);
    return Boolean(
      status?.state?.running ||
        status?.state?.terminated?.startedAt ||
        status?.lastState?.terminated,
    );
  });
}

/** Where the output notebook is, once a runner has started (never for a run that could not). */
function outputUriOf(job: V1Job | null, pods: V1Pod[], ran = runnerStarted(pods)): string | null {
  if (!ran) return null;
  return (
    job?.metadata?.annotations?.[ANNOTATIONS.outputUri] ??
    pods.find((p) => p.metadata?.annotations?.[ANNOTATIONS.outputUri])?.metadata?.annotations?.[
      ANNOTATIONS.outputUri
    ] ??
    null
  );
}

function finished(
  runId: string,
  time: string,
  status: FinishedStatus,
  error: RunFailure | null,
  outputUri: string | null,
): Finished {
  return { type: 'finished', runId, time, status, error, outputUri };
}

function infra(ename: string, evalue: string): RunFailure {
  return { class: 'infra', ename, evalue, cellIndex: null };
}

/** The last terminated state of the runner in any of the Job's pods (newest first). */
function terminatedRunner(pods: V1Pod[]): ExitFacts | null {
  const sorted = [...pods].sort(
    (a, b) => (ms(b.metadata?.creationTimestamp) ?? 0) - (ms(a.metadata?.creationTimestamp) ?? 0),
  );
  for (const pod of sorted) {
    if (disrupted(pod)) continue;
    const terminated = runnerStatus(pod)?.state?.terminated;
    if (terminated) return terminated;
  }
  return null;
}

/** `... failed with exit code 4 matching FailJob rule at index 1` (the pod may be gone). */
function exitCodeFromMessage(message: string | undefined): number | null {
  const match = /failed with exit code (\d+)/.exec(message ?? '');
  return match ? Number(match[1]) : null;
}

function eventMessage(events: CoreV1Event[] | undefined, reasons: string[]): string | null {
  const matching = (events ?? []).filter((e) => e.reason && reasons.includes(e.reason));
  matching.sort(
    (a, b) =>
      (ms(a.lastTimestamp ?? a.eventTime ?? a.metadata?.creationTimestamp) ?? 0) -
      (ms(b.lastTimestamp ?? b.eventTime ?? b.metadata?.creationTimestamp) ?? 0),
  );
  return matching.at(-1)?.message ?? null;
}

/** The Job's final condition as a run's end. */
function fromFinishedJob(
  objects: RunObjects,
  job: V1Job,
  now: number,
  cancelRequested: boolean,
): Finished {
  const { runId, pods } = objects;
  const failedWith = exitCodeFromMessage(condition(job, 'Failed')?.message);
  // Complete, or a runner exit in the condition: a runner ran even when its pod is gone.
  const ran = runnerStarted(pods) || condition(job, 'Complete') !== null || failedWith !== null;
  const outputUri = outputUriOf(job, pods, ran);
  const complete = condition(job, 'Complete');
  if (complete) {
    const exit = terminatedRunner(pods);
    const result = exit ? parseRunnerResult(exit.message) : null;
    return finished(
      runId,
      iso(job.status?.completionTime ?? complete.lastTransitionTime, now),
      'succeeded',
      null,
      (typeof result?.outputUri === 'string' ? result.outputUri : null) ?? outputUri,
    );
  }
  const failed = condition(job, 'Failed');
  const time = iso(failed?.lastTransitionTime, now);
  if (failed?.reason === 'DeadlineExceeded') {
    const ran = terminatedRunner(pods);
    const saved = ran ? parseRunnerResult(ran.message)?.outputUri : null;
    return finished(
      runId,
      time,
      'timed_out',
      {
        class: 'timeout',
        ename: 'DeadlineExceeded',
        evalue: `The Job was active longer than its deadline of ${job.spec?.activeDeadlineSeconds ?? '?'} s (scheduling and image pulls included)`,
        cellIndex: null,
      },
      (typeof saved === 'string' ? saved : null) ?? outputUri,
    );
  }
  const exit = terminatedRunner(pods);
  const code = exit?.exitCode ?? exitCodeFromMessage(failed?.message);
  if (code !== null && code !== undefined) {
    const mapped = failureFromContainerExit(exit ?? { exitCode: code }, cancelRequested);
    return finished(runId, time, mapped.status, mapped.error, mapped.outputUri ?? outputUri);
  }
  if (cancelRequested) {
    return finished(
      runId,
      time,
      'cancelled',
      { class: 'cancelled', ename: 'Cancelled', evalue: 'The run was cancelled', cellIndex: null },
      outputUri,
    );
  }
  return finished(
    runId,
    time,
    'failed',
    infra(
      failed?.reason ?? 'JobFailed',
      failed?.message ?? 'The Job failed without a runner exit code',
    ),
    outputUri,
  );
}

/** Why the current pod cannot start, when it is a reason to fail the run. */
function pendingFailure(
  objects: RunObjects,
  job: V1Job,
  pod: V1Pod | undefined,
  now: number,
  options: RunStateOptions,
): JudgedUpdate | null {
  const { runId, pods, events } = objects;
  const outputUri = outputUriOf(job, pods);
  const timeoutMs = options.pendingTimeoutSeconds * 1000;
  const fail = (error: RunFailure): JudgedUpdate => ({
    update: finished(runId, new Date(now).toISOString(), 'failed', error, outputUri),
    judged: true,
  });
  if (pod === undefined) {
    // A disrupted pod still stopping: the Job controller creates the replacement only once it
    // is gone (the podFailurePolicy needs its final state), so there is nothing to judge yet.
    if (pods.some((p) => disrupted(p) && !podFinished(p))) return null;
    // No pod at all: quota, admission or PodSecurity refused it (the Job's FailedCreate events).
    // After a disruption the replacement's wait starts when the last pod was disrupted and done.
    const since = Math.max(
      ms(job.status?.startTime) ?? 0,
      ms(job.metadata?.creationTimestamp) ?? now,
      ...pods.map((p) => disruptedAt(p) ?? 0),
      ...pods.map((p) =>
        disrupted(p) ? (ms(runnerStatus(p)?.state?.terminated?.finishedAt) ?? 0) : 0,
      ),
    );
    if (now - since < timeoutMs) return null;
    const why = eventMessage(events, ['FailedCreate']);
    return fail(
      infra(
        'PodNotCreated',
        `No pod was created for the run within ${options.pendingTimeoutSeconds} s${why ? `: ${why}` : ''}`,
      ),
    );
  }
  const waiting = runnerStatus(pod)?.state?.waiting;
  if (waiting?.reason && CONFIG_ERRORS.has(waiting.reason)) {
    return fail(
      infra(
        waiting.reason,
        `The runner container cannot be created: ${waiting.message ?? waiting.reason}`,
      ),
    );
  }
  const since = ms(pod.metadata?.creationTimestamp) ?? ms(job.metadata?.creationTimestamp) ?? now;
  if (now - since < timeoutMs) return null;
  const image = pod.spec?.containers.find((c) => c.name === RUNNER_CONTAINER)?.image ?? '?';
  if (waiting?.reason && IMAGE_PULL_ERRORS.has(waiting.reason)) {
    // The root cause is in the kubelet's `Failed` event ("Failed to pull image ...: not found");
    // ImagePullBackOff's own message only says it is backing off.
    const pullFailure = (events ?? []).filter((e) => e.message?.startsWith('Failed to pull image'));
    const detail =
      eventMessage(pullFailure, ['Failed']) ??
      (waiting.reason === 'ErrImagePull' ? waiting.message : undefined) ??
      eventMessage(events, ['BackOff']) ??
      waiting.message ??
      waiting.reason;
    return fail(
      infra(
        'ImagePullFailed',
        `The runner image ${image} could not be pulled within ${options.pendingTimeoutSeconds} s (${waiting.reason}): ${detail}`,
      ),
    );
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') {
    const detail =
      scheduled.message ?? eventMessage(events, ['FailedScheduling']) ?? scheduled.reason;
    return fail(
      infra(
        'Unschedulable',
        `The run's pod was not scheduled within ${options.pendingTimeoutSeconds} s: ${detail ?? 'no node fits'}`,
      ),
    );
  }
  if (pod.status?.phase === 'Pending') {
    return fail(
      infra(
        'StartTimeout',
        `The run's pod did not start within ${options.pendingTimeoutSeconds} s${
          waiting?.reason
            ? ` (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`
            : ''
        }`,
      ),
    );
  }
  return null;
}

/**
 * The update a run's objects call for, and whether NES judged it. Null: nothing new to say
 * (pending within its timeout, suspended in a Kueue queue, a pod being replaced).
 */
export function judgeRunState(
  objects: RunObjects,
  now: number,
  options: RunStateOptions,
): JudgedUpdate | null {
  const { runId, job, pods } = objects;
  const cancelRequested =
    options.cancelRequested === true || job?.metadata?.annotations?.[CANCEL_ANNOTATION] === 'true';

  if (job !== null && jobFinished(job)) {
    // A Job fails at once when its deadline passes, while its pod still runs (the runner got
    // SIGTERM and is saving the notebook): the end is reported when the runner has stopped,
    // with its notebook saved and its whole log in.
    if (pods.some(runnerStillRunning)) return null;
    return { update: fromFinishedJob(objects, job, now, cancelRequested), judged: false };
  }

  if (job === null) {
    // Deleted before it finished. A pod that is still stopping (the runner saving the notebook
    // after SIGTERM) is waited for; then its exit says what happened.
    const stopping = pods.some((pod) => {
      const phase = pod.status?.phase;
      return !disrupted(pod) && (phase === 'Pending' || phase === 'Running' || !phase);
    });
    if (stopping) return null;
    const exit = terminatedRunner(pods);
    const outputUri = outputUriOf(null, pods);
    const time = iso(exit?.finishedAt, now);
    if (exit) {
      const mapped = failureFromContainerExit(exit, cancelRequested);
      return {
        update: finished(runId, time, mapped.status, mapped.error, mapped.outputUri ?? outputUri),
        judged: false,
      };
    }
    if (cancelRequested) {
      return {
        update: finished(
          runId,
          time,
          'cancelled',
          {
            class: 'cancelled',
            ename: 'Cancelled',
            evalue: 'The run was cancelled',
            cellIndex: null,
          },
          outputUri,
        ),
        judged: false,
      };
    }
    return {
      update: finished(
        runId,
        time,
        'failed',
        infra(
          'RunLost',
          'The run was lost: its Job was deleted before it finished, and no runner exit is known',
        ),
        outputUri,
      ),
      judged: true,
    };
  }

  if (jobSuspended(job)) return null;

  const pod = currentPod(pods);
  const runner = pod ? runnerStatus(pod) : undefined;
  const terminated = runner?.state?.terminated;
  if (terminated) {
    // The runner has ended; the Job's Complete or Failed condition follows (same answer, sooner:
    // one pod, no retries, so its exit decides the Job).
    const mapped = failureFromContainerExit(terminated, cancelRequested);
    return {
      update: finished(
        runId,
        iso(terminated.finishedAt, now),
        mapped.status,
        mapped.error,
        mapped.outputUri ?? outputUriOf(job, pods),
      ),
      judged: false,
    };
  }
  if (runner?.state?.running) {
    return {
      update: { type: 'running', runId, time: iso(runner.state.running.startedAt, now) },
      judged: false,
    };
  }
  return pendingFailure(objects, job, pod, now, options);
}

function podFinished(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function runnerStillRunning(pod: V1Pod): boolean {
  if (disrupted(pod)) return false;
  const phase = pod.status?.phase;
  return (
    (phase === 'Running' || phase === 'Pending') && runnerStatus(pod)?.state?.running !== undefined
  );
}

/** `judgeRunState` without the judgement flag. */
export function mapRunState(
  objects: RunObjects,
  now: number,
  options: RunStateOptions,
): ExecutorUpdate | null {
  return judgeRunState(objects, now, options)?.update ?? null;
}

/** The executor-side state for `observe`. */
export function observedState(
  job: V1Job | null,
  pods: V1Pod[],
): 'pending' | 'running' | 'finished' | 'unknown' {
  if (job === null) return 'unknown';
  if (jobFinished(job)) return 'finished';
  const pod = currentPod(pods);
  const runner = pod ? runnerStatus(pod) : undefined;
  if (runner?.state?.terminated) return 'finished';
  if (runner?.state?.running) return 'running';
  return 'pending';
}
