/**
 * The executor's view of the cluster: NES's Jobs and pods, as the informers and re-lists report
 * them, indexed by run id. Every change marks the run for a reconcile (`onChange`); the index
 * itself judges nothing. An older copy of an object never replaces a newer one, a deleted pod is
 * kept (its last state says how the runner ended), and a finished Job deleted later keeps its
 * final state.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { ExecutorUpdate } from '../executor.ts';
import { ANNOTATIONS, INSTALLATION_LABEL, jobNameForRun } from './job-builder.ts';
import type { Follower } from './log-follower.ts';
import { LOGS_ARCHIVED_ANNOTATION } from './pod-log-archive.ts';
import type { ReplayBoundary } from './pod-logs.ts';
import { CANCEL_ANNOTATION, disrupted, jobFinished, runnerStatus } from './run-state.ts';
import { RunnerLogReader } from './runner-log.ts';

export interface TrackedRun {
  runId: string;
  jobName: string;
  job: V1Job | null;
  /** When the Job was last seen gone (deleted, or missing from a re-list). */
  jobGoneAt: number | null;
  pods: Map<string, V1Pod>;
  /** Pods deleted from the cluster: their last state still says how the runner ended. */
  gonePods: Set<string>;
  cancelRequested: boolean;
  /** This process deleted the Job to cancel the run. */
  cancelSent: boolean;
  /** What was last reported ('running', 'finished'), so a state is reported once. */
  reported: 'none' | 'running' | 'finished';
  /** NES ended the run itself: its Job is to be deleted, so Kubernetes stops retrying it. */
  deleteOwed: boolean;
  reader: RunnerLogReader;
  follower: Follower | null;
  logLines: string[];
  logBytes: number;
  archived: boolean;
  finishedAt: number | null;
  /** Lines reported before this process followed the run (null: none, or not known yet). */
  replay: ReplayBoundary | null;
  /** The newest progress read while replaying, reported once the replay is over. */
  replayProgress: ExecutorUpdate | null;
}

export interface RunIndexOptions {
  /** Only objects carrying this installation label are NES's (null: any NES object). */
  installation: string | null;
  now(): number;
  /** The run's objects changed: reconcile it. */
  onChange(runId: string): void;
}

export class RunIndex {
  readonly #o: RunIndexOptions;
  readonly #runs = new Map<string, TrackedRun>();

  constructor(options: RunIndexOptions) {
    this.#o = options;
  }

  get(runId: string): TrackedRun | undefined {
    return this.#runs.get(runId);
  }

  runs(): IterableIterator<TrackedRun> {
    return this.#runs.values();
  }

  /** Forgets a run: nothing of it is left in the cluster. */
  delete(runId: string): void {
    this.#runs.delete(runId);
  }

  /** The run's entry, created empty when it is not known yet. */
  track(runId: string): TrackedRun {
    let tracked = this.#runs.get(runId);
    if (!tracked) {
      tracked = {
        runId,
        jobName: jobNameForRun(runId),
        job: null,
        jobGoneAt: null,
        pods: new Map(),
        gonePods: new Set(),
        cancelRequested: false,
        cancelSent: false,
        reported: 'none',
        deleteOwed: false,
        reader: new RunnerLogReader(runId),
        follower: null,
        logLines: [],
        logBytes: 0,
        archived: false,
        finishedAt: null,
        replay: null,
        replayProgress: null,
      };
      this.#runs.set(runId, tracked);
    }
    return tracked;
  }

  #runIdOf(object: V1Job | V1Pod): string | null {
    // Another installation's object (read by name, or listed before a label change): not ours.
    const installation = this.#o.installation;
    if (installation && object.metadata?.labels?.[INSTALLATION_LABEL] !== installation) return null;
    return object.metadata?.annotations?.[ANNOTATIONS.runId] ?? null;
  }

  upsertJob(job: V1Job): void {
    const runId = this.#runIdOf(job);
    if (runId === null) return;
    const tracked = this.track(runId);
    if (tracked.job && olderThan(job, tracked.job)) return;
    tracked.job = job;
    tracked.jobGoneAt = null;
    if (job.metadata?.annotations?.[CANCEL_ANNOTATION] === 'true') tracked.cancelRequested = true;
    if (job.metadata?.annotations?.[LOGS_ARCHIVED_ANNOTATION] === 'true') tracked.archived = true;
    this.#o.onChange(runId);
  }

  removeJob(job: V1Job): void {
    const runId = this.#runIdOf(job);
    if (runId === null) return;
    const tracked = this.track(runId);
    if (job.metadata?.annotations?.[CANCEL_ANNOTATION] === 'true') tracked.cancelRequested = true;
    // Keep the last state when it was final: a finished Job deleted later still says how it ended.
    if (!jobFinished(job)) tracked.job = null;
    else tracked.job = job;
    tracked.jobGoneAt = this.#o.now();
    this.#o.onChange(runId);
  }

  /** A complete list of Jobs: a tracked Job missing from it was deleted unseen. */
  listedJobs(jobs: V1Job[]): void {
    const present = new Set(jobs.map((job) => this.#runIdOf(job)));
    for (const tracked of this.#runs.values()) {
      if (tracked.job && tracked.jobGoneAt === null && !present.has(tracked.runId)) {
        this.removeJob(tracked.job);
      }
    }
  }

  upsertPod(pod: V1Pod): void {
    const runId = this.#runIdOf(pod);
    const name = pod.metadata?.name;
    if (runId === null || !name) return;
    const tracked = this.track(runId);
    const known = tracked.pods.get(name);
    if (known && olderThan(pod, known)) return;
    tracked.pods.set(name, pod);
    tracked.gonePods.delete(name);
    this.#o.onChange(runId);
  }

  removePod(pod: V1Pod): void {
    const runId = this.#runIdOf(pod);
    const name = pod.metadata?.name;
    if (runId === null || !name) return;
    const tracked = this.track(runId);
    tracked.pods.set(name, pod);
    tracked.gonePods.add(name);
    this.#o.onChange(runId);
  }

  /** A complete list of pods: a tracked pod missing from it was deleted unseen. */
  listedPods(pods: V1Pod[]): void {
    const present = new Set(pods.map((pod) => pod.metadata?.name));
    for (const tracked of this.#runs.values()) {
      for (const [name, pod] of tracked.pods) {
        if (!present.has(name) && !tracked.gonePods.has(name)) this.removePod(pod);
      }
    }
  }
}

/** The pods the mapper should see: live ones, and deleted ones whose runner had ended. */
export function podsOf(tracked: TrackedRun): V1Pod[] {
  const pods: V1Pod[] = [];
  for (const [name, pod] of tracked.pods) {
    if (!tracked.gonePods.has(name)) pods.push(pod);
    else if (runnerStatus(pod)?.state?.terminated || disrupted(pod)) pods.push(pod);
  }
  return pods;
}

/** The run's pods still in the cluster, oldest first. */
export function livePodsOldestFirst(tracked: TrackedRun): V1Pod[] {
  return [...tracked.pods.values()]
    .filter((pod) => !tracked.gonePods.has(pod.metadata?.name ?? ''))
    .sort((a, b) =>
      String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)),
    );
}

/** True when `a` is an older version of the same object than `b` (numeric resourceVersions). */
function olderThan(a: V1Job | V1Pod, b: V1Job | V1Pod): boolean {
  const va = a.metadata?.resourceVersion;
  const vb = b.metadata?.resourceVersion;
  if (!va || !vb || !/^\d+$/.test(va) || !/^\d+$/.test(vb)) return false;
  if (a.metadata?.uid !== b.metadata?.uid) return false;
  return BigInt(va) < BigInt(vb);
}
